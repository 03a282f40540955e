import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError, errorCode, ioError, isResourceExhausted, wrap } from '../../../src/base/errors.js';

const raw = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('error codes', () => {
  it('keeps a BerthError code and calls other errors UNKNOWN', () => {
    assert.equal(errorCode(new BerthError('NOT_FOUND', 'x')), 'NOT_FOUND');
    assert.equal(errorCode(new Error('x')), 'UNKNOWN');
    assert.equal(errorCode(raw('ENOENT')), 'UNKNOWN', 'a raw ENOENT means different things to different callers');
    assert.equal(errorCode(undefined), 'UNKNOWN');
    assert.equal(errorCode('text'), 'UNKNOWN');
  });

  it('reads a full disk as RESOURCE_EXHAUSTED wherever it surfaces (issue #7)', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL']) {
      assert.equal(errorCode(raw(code)), 'RESOURCE_EXHAUSTED', code);
      assert.ok(isResourceExhausted(raw(code)), code);
      assert.equal(wrap(raw(code), 'create container c').code, 'RESOURCE_EXHAUSTED', code);
    }
  });

  it('ioError classifies filesystem errors and says what was being done', () => {
    const err = ioError(raw('ENOSPC', 'ENOSPC: no space left on device, write'), 'write content sha256:ab');
    assert.equal(err.code, 'RESOURCE_EXHAUSTED');
    assert.equal(err.message, 'write content sha256:ab: ENOSPC: no space left on device, write');
    assert.equal(ioError(raw('ENOENT'), 'x').code, 'NOT_FOUND');
    assert.equal(ioError(raw('EACCES'), 'x').code, 'PERMISSION_DENIED');
    assert.equal(ioError(raw('EIO'), 'x').code, 'UNKNOWN');
  });
});

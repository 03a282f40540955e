import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsFromAuth as credentialsOf } from '../../../src/images/credentials.js';

const base = { username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '' };

describe('CRI AuthConfig to registry credentials', () => {
  it('reads username/password, auth, identity and registry tokens', () => {
    assert.equal(credentialsOf(undefined), undefined);
    assert.equal(credentialsOf(base), undefined);
    assert.deepEqual(credentialsOf({ ...base, username: 'u', password: 'p' }), { username: 'u', password: 'p' });
    assert.deepEqual(credentialsOf({ ...base, auth: Buffer.from('alice:s3:cret').toString('base64') }), {
      username: 'alice',
      password: 's3:cret',
    });
    assert.deepEqual(credentialsOf({ ...base, identityToken: 'id' }), { identityToken: 'id' });
    assert.deepEqual(credentialsOf({ ...base, registryToken: 'rt' }), { registryToken: 'rt' });
  });

  it('refuses an auth field that is not user:password', () => {
    assert.throws(() => credentialsOf({ ...base, auth: Buffer.from('nocolon').toString('base64') }), {
      code: 'INVALID_ARGUMENT',
    });
  });
});

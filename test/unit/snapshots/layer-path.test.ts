import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { layerPathParts, whiteoutOf } from '../../../src/snapshots/index.js';

describe('layer entry names', () => {
  it('normalizes leading ./ and / and repeated slashes', () => {
    assert.deepEqual(layerPathParts('./a//b/', 'l'), ['a', 'b']);
    assert.deepEqual(layerPathParts('/etc/passwd', 'l'), ['etc', 'passwd']);
    assert.deepEqual(layerPathParts('./', 'l'), []);
  });

  for (const bad of ['..', '../x', 'a/../b', 'a/..', '/../x', 'a\0b']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => layerPathParts(bad, 'l'), { code: 'INVALID_ARGUMENT' });
    });
  }

  it('reads whiteouts and opaque markers', () => {
    assert.deepEqual(whiteoutOf('.wh..wh..opq', 'l'), { kind: 'opaque' });
    assert.deepEqual(whiteoutOf('.wh.gone.txt', 'l'), { kind: 'file', target: 'gone.txt' });
    assert.equal(whiteoutOf('plain', 'l'), undefined);
    for (const bad of ['.wh.', '.wh..', '.wh...', '.wh..wh.x']) {
      assert.throws(() => whiteoutOf(bad, 'l'), { code: 'INVALID_ARGUMENT' }, bad);
    }
  });
});

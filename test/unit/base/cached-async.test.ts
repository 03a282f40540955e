import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachedAsync } from '../../../src/base/cached-async.js';

describe('cached async value', () => {
  it('computes once per max age, shares a computation in flight, and does not cache failures', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const cache = new CachedAsync(
      async () => {
        calls++;
        if (fail) throw new Error('boom');
        return calls;
      },
      1000,
      () => now,
    );
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    assert.deepEqual([a, b, calls], [1, 1, 1]);
    now = 999;
    assert.equal(await cache.get(), 1);
    now = 1000;
    assert.equal(await cache.get(), 2);
    cache.invalidate();
    fail = true;
    await assert.rejects(cache.get(), /boom/);
    fail = false;
    assert.equal(await cache.get(), 4);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../../src/base/errors.js';
import { DiskUsageCache } from '../../../src/stats/index.js';
import type { DiskUsage } from '../../../src/stats/index.js';

/** A walk that counts its calls and can be held open, and a clock the test moves. */
function fixture(opts: { maxAgeMs?: number; maxStaleMs?: number; concurrency?: number } = {}) {
  const clock = { nowMs: 1_000 };
  const calls: string[] = [];
  const holds: (() => void)[] = [];
  const state = { hold: false, running: 0, maxRunning: 0, failing: new Set<string>() };
  const walk = async (dir: string): Promise<DiskUsage> => {
    calls.push(dir);
    state.running += 1;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    try {
      if (state.hold) await new Promise<void>((resolve) => holds.push(resolve));
      if (state.failing.has(dir)) throw new BerthError('NOT_FOUND', `directory "${dir}" not found`);
      return { bytes: calls.length * 100, inodes: calls.length };
    } finally {
      state.running -= 1;
    }
  };
  const cache = new DiskUsageCache({ maxAgeMs: 10_000, maxStaleMs: 60_000, ...opts, nowMs: () => clock.nowMs, walk });
  return { cache, clock, calls, holds, state };
}

describe('DiskUsageCache', () => {
  it('walks once per max age and shares a walk in flight', async () => {
    const { cache, clock, calls } = fixture();
    const [a, b] = await Promise.all([cache.get('/l1'), cache.get('/l1')]);
    assert.deepEqual(a, b);
    assert.equal(calls.length, 1);
    clock.nowMs += 9_999;
    await cache.get('/l1');
    assert.equal(calls.length, 1, 'still fresh');
  });

  it('answers a stale value at once and refreshes it behind', async () => {
    const { cache, clock, calls } = fixture();
    const first = await cache.get('/l1');
    clock.nowMs += 10_000;
    assert.deepEqual(await cache.get('/l1'), first, 'stale but usable');
    await cache.close();
    assert.equal(calls.length, 2, 'refreshed');
    assert.deepEqual(await cache.get('/l1'), { bytes: 200, inodes: 2 });
  });

  it('waits for a walk when the value is too old to use', async () => {
    const { cache, clock, calls } = fixture();
    await cache.get('/l1');
    clock.nowMs += 60_000;
    assert.deepEqual(await cache.get('/l1'), { bytes: 200, inodes: 2 });
    assert.equal(calls.length, 2);
  });

  it('does not cache failures, and drops a value whose refresh failed', async () => {
    const { cache, clock, calls, state } = fixture();
    state.failing.add('/gone');
    await assert.rejects(cache.get('/gone'), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND');
    await assert.rejects(cache.get('/gone'));
    assert.equal(calls.length, 2);
    await cache.get('/l1');
    state.failing.add('/l1');
    clock.nowMs += 10_000;
    await cache.get('/l1'); // stale answer, failing refresh behind
    await cache.close();
    await assert.rejects(cache.get('/l1'), 'the failed refresh dropped the value');
  });

  it('runs at most `concurrency` walks at once', async () => {
    const { cache, holds, state } = fixture({ concurrency: 2 });
    state.hold = true;
    const all = Promise.all(['/a', '/b', '/c', '/d', '/e'].map((d) => cache.get(d)));
    for (let i = 0; i < 5; i += 1) {
      while (holds.length === 0) await new Promise((r) => setImmediate(r));
      holds.shift()?.();
    }
    await all;
    assert.equal(state.maxRunning, 2);
  });

  it('forgets directories nobody asked about, and invalidate() forces a walk', async () => {
    const { cache, clock, calls } = fixture();
    await cache.get('/old');
    await cache.get('/l1');
    clock.nowMs += 61_000;
    await cache.get('/l1');
    assert.equal(cache.size, 1, '/old was pruned');
    cache.invalidate('/l1');
    await cache.get('/l1');
    assert.equal(calls.length, 4);
  });
});

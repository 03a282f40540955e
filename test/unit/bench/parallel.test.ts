import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimited } from '../../../bench/parallel.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('mapLimited keeps input order and never has more than limit calls in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimited([5, 1, 4, 2, 3], 2, async (n, i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    for (let k = 0; k < n; k++) await tick();
    inFlight--;
    return `${i}:${n}`;
  });
  assert.deepEqual(out, ['0:5', '1:1', '2:4', '3:2', '4:3']);
  assert.equal(most, 2);
});

test('mapLimited rejects with the first failure, lets calls in flight settle and starts no new one', async () => {
  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    mapLimited([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick();
      if (n === 1) throw new Error('boom 1');
      await tick();
      settled++;
      return n;
    }),
    /boom 1/,
  );
  assert.deepEqual(started, [0, 1]);
  assert.equal(settled, 1);
});

test('mapLimited of nothing is nothing, and a limit below 1 is refused', async () => {
  assert.deepEqual(await mapLimited([], 3, async () => 1), []);
  await assert.rejects(
    mapLimited([1], 0, async () => 1),
    RangeError,
  );
});

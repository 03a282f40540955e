import { test } from 'node:test';
import assert from 'node:assert/strict';
import { elapsedMs, median, percentile, percentileOfSorted, sorted, summarize } from '../../../bench/stats.js';

test('percentile interpolates linearly between ranks (numpy default)', () => {
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(values, 0), 1);
  assert.equal(percentile(values, 100), 10);
  assert.equal(percentile(values, 50), 5.5);
  // h = 9 * 0.9 = 8.1: between x[8] = 9 and x[9] = 10
  assert.ok(Math.abs(percentile(values, 90) - 9.1) < 1e-12);
  assert.ok(Math.abs(percentile(values, 99) - 9.91) < 1e-12);
});

test('percentile does not depend on input order and leaves the input alone', () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(percentile(values, 50), 3);
  assert.deepEqual(values, [5, 1, 4, 2, 3]);
  assert.deepEqual(sorted(values), [1, 2, 3, 4, 5]);
});

test('median of odd and even counts, and of one sample', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.equal(percentile([7], 99), 7);
});

test('percentileOfSorted matches percentile on sorted input', () => {
  const values = [0.2, 0.4, 0.1, 0.9, 0.3, 0.35];
  const s = sorted(values);
  for (const p of [0, 10, 25, 50, 75, 90, 99, 100]) assert.equal(percentileOfSorted(s, p), percentile(values, p));
});

test('summarize gives n, min, max, mean and the percentiles', () => {
  const s = summarize([4, 2, 8, 6]);
  assert.deepEqual(
    { n: s.n, min: s.min, max: s.max, mean: s.mean, p50: s.p50 },
    { n: 4, min: 2, max: 8, mean: 5, p50: 5 },
  );
  assert.ok(Math.abs(s.p90 - 7.4) < 1e-12);
  assert.ok(Math.abs(s.p99 - 7.94) < 1e-12);
});

test('empty samples, non-finite samples and out-of-range percentiles are rejected', () => {
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => summarize([]), RangeError);
  assert.throws(() => median([1, Number.NaN]), RangeError);
  assert.throws(() => percentile([1, Infinity], 50), RangeError);
  assert.throws(() => percentile([1, 2], -1), RangeError);
  assert.throws(() => percentile([1, 2], 101), RangeError);
  assert.throws(() => percentile([1, 2], Number.NaN), RangeError);
});

test('elapsedMs converts hrtime nanoseconds to milliseconds with sub-microsecond precision', () => {
  assert.equal(elapsedMs(1_000n, 1_501_000n), 1.5);
  assert.equal(elapsedMs(0n, 1_234n), 0.001234);
});

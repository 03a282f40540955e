/**
 * Summary statistics for benchmark samples. Pure functions, no I/O.
 *
 * Percentiles interpolate linearly between the two nearest ranks (numpy's default, R type 7): with sorted
 * samples x[0..n-1], percentile p sits at position h = (n - 1) * p / 100 and is
 * x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]). So p50 is the usual median, p0 the
 * minimum and p100 the maximum, and small samples (N = 10 cold starts) do not snap to one sample.
 */

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

function checkSamples(values: readonly number[]): void {
  if (values.length === 0) throw new RangeError('no samples');
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`sample ${v} is not a finite number`);
  }
}

/** Ascending copy; the input is left as it is. */
export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Percentile p (0..100) of samples already sorted ascending. */
export function percentileOfSorted(ascending: readonly number[], p: number): number {
  checkSamples(ascending);
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  const h = ((ascending.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, ascending.length - 1);
  const a = ascending[lo]!;
  const b = ascending[hi]!;
  return a + (h - lo) * (b - a);
}

/** Percentile p (0..100) of samples in any order. */
export function percentile(values: readonly number[], p: number): number {
  checkSamples(values);
  return percentileOfSorted(sorted(values), p);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function summarize(values: readonly number[]): Summary {
  checkSamples(values);
  const s = sorted(values);
  return {
    n: s.length,
    min: s[0]!,
    max: s[s.length - 1]!,
    mean: s.reduce((sum, v) => sum + v, 0) / s.length,
    p50: percentileOfSorted(s, 50),
    p90: percentileOfSorted(s, 90),
    p99: percentileOfSorted(s, 99),
  };
}

/** Nanoseconds between two process.hrtime.bigint() readings, as milliseconds (sub-microsecond precision kept). */
export function elapsedMs(startNs: bigint, endNs: bigint): number {
  return Number(endNs - startNs) / 1e6;
}

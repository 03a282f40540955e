/**
 * A value that is expensive to compute (a walk of the snapshot store for ImageFsInfo) and polled often:
 * computed at most once per maxAgeMs, concurrent callers share one computation, and a failure is not cached.
 */
export class CachedAsync<T> {
  private value: { readonly at: number; readonly data: T } | undefined;
  private inFlight: Promise<T> | undefined;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.value !== undefined && this.nowMs() - this.value.at < this.maxAgeMs) {
      return Promise.resolve(this.value.data);
    }
    this.inFlight ??= this.compute()
      .then((data) => {
        this.value = { at: this.nowMs(), data };
        return data;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** The next get() computes anew (after a pull or a removal changed the store). */
  invalidate(): void {
    this.value = undefined;
  }
}

/**
 * One in-flight promise per key: concurrent callers of the same key share it (one download of a blob
 * however many pulls need it, one application of a layer). After it settles, the next call starts anew.
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  run(key: K, fn: () => Promise<V>): Promise<V> {
    const existing = this.inFlight.get(key);
    if (existing !== undefined) return existing;
    const promise = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  isRunning(key: K): boolean {
    return this.inFlight.has(key);
  }
}

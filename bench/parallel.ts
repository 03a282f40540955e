/**
 * Running many daemon calls a few at a time: setting up 400 containers one by one takes minutes, all at once
 * would measure the machine's overload. mapLimited keeps `limit` calls in flight, in input order.
 */

/**
 * fn over every item, at most limit at a time; resolves with the results in input order. The first failure
 * rejects (after the calls already in flight settle, so nothing runs on behind the caller's back); no new call
 * starts after it.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`limit ${limit} is not a positive integer`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { readonly err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.err;
  return results;
}

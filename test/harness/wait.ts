/**
 * Polling for a condition the test cannot be told about (a container's state, a file's contents): the one
 * helper every integration test uses, so none of them sleeps and hopes.
 */

const POLL_MS = 100;

/** Calls fn every 100 ms until it returns a value (not undefined), and returns it; throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

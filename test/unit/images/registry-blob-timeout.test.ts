// Blob downloads are limited by silence, not by their total time (issue #7): a fake fetch whose body honours
// the request's AbortSignal, as undici's does.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../../src/images/index.js';

const REQUEST_TIMEOUT_MS = 200;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const REPO = { domain: '127.0.0.1:5000', path: 'berth-test/slow' };

/** A 200 response whose body sends `chunks` chunks, `gapMs` apart, then ends (or hangs when `isStalling`). */
function slowFetch(chunks: number, gapMs: number, isStalling = false): typeof fetch {
  return async (_url: string | URL | Request, init?: RequestInit) => {
    const signal = init?.signal ?? undefined;
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          controller.error(signal.reason);
        });
      },
      pull(controller) {
        return new Promise<void>((resolve) => {
          if (sent === chunks && isStalling) return; // never resolves: the registry went silent
          timer = setTimeout(() => {
            if (sent === chunks) controller.close();
            else controller.enqueue(new Uint8Array(1024).fill(sent++));
            resolve();
          }, gapMs);
        });
      },
    });
    return new Response(body, { status: 200, headers: { 'content-length': String(chunks * 1024) } });
  };
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  return n;
}

describe('registry client: blob download time limit', () => {
  it('lets a download run longer than the request timeout while bytes keep coming', async () => {
    const client = new RegistryClient({ mirrors: {}, requestTimeoutMs: REQUEST_TIMEOUT_MS, fetch: slowFetch(10, 60) });
    const blob = await client.fetchBlob(REPO, DIGEST);
    assert.equal(await drain(blob.body), 10 * 1024, 'all 600 ms of it, with a 200 ms limit on silence');
  });

  it('gives up on a body that goes silent: UNAVAILABLE naming the endpoint and the byte reached', async () => {
    const client = new RegistryClient({
      mirrors: {},
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      fetch: slowFetch(3, 20, true),
    });
    const blob = await client.fetchBlob(REPO, DIGEST);
    // The idle timer is unref'd (a real socket keeps the process alive); the fake has no socket.
    const alive = setInterval(() => undefined, 1000);
    after(() => clearInterval(alive));
    await assert.rejects(drain(blob.body), {
      code: 'UNAVAILABLE',
      message:
        /blob sha256:a+ of 127\.0\.0\.1:5000\/berth-test\/slow: connection to http:\/\/127\.0\.0\.1:5000 dropped after byte 3072: no byte for 200 ms/,
    });
  });
});

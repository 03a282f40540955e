/**
 * An HTTP proxy in front of a test registry that can break one blob download part-way: 'stall' sends the first
 * `afterBytes` bytes and then hangs (so a test can kill berthd in the middle of a pull at a known point), 'cut'
 * sends them and then drops the connection (a registry or load balancer that resets mid-blob), for the first
 * `times` GETs of the blob. Without a fault it only passes through. It records the Range header of every blob
 * GET (to prove a later pull resumed instead of starting over). 127.0.0.1 only.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StallProxy {
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  /** Resolves once the faulty blob has sent `afterBytes` bytes and hung (or been cut) the first time. */
  readonly stalled: Promise<void>;
  /** Range header ("" when none) of each GET of a blob, by digest, in order. */
  readonly ranges: Map<string, string[]>;
  /** From now on, pass everything through without a fault. */
  passThrough(): void;
  close(): Promise<void>;
}

export interface BlobFault {
  readonly digest: string;
  readonly afterBytes: number;
  /** Default 'stall'. */
  readonly mode?: 'stall' | 'cut';
  /** How many GETs of the blob get the fault before it passes through. Default: every one until passThrough(). */
  readonly times?: number;
}

export async function startStallProxy(upstream: string, fault?: BlobFault): Promise<StallProxy> {
  let faultsLeft = fault === undefined ? 0 : (fault.times ?? Infinity);
  let onStalled!: () => void;
  const stalled = new Promise<void>((resolve) => {
    onStalled = resolve;
  });
  const ranges = new Map<string, string[]>();
  const hung: ServerResponse[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    const range = typeof req.headers.range === 'string' ? req.headers.range : '';
    if (digest !== undefined && req.method === 'GET') ranges.set(digest, [...(ranges.get(digest) ?? []), range]);
    const headers: Record<string, string> = {};
    for (const name of ['accept', 'range', 'authorization']) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const up = await fetch(`${upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      redirect: 'follow',
    });
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
    });
    res.writeHead(up.status, out);
    if (up.body === null || req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = Buffer.from(await up.arrayBuffer());
    if (fault !== undefined && faultsLeft > 0 && digest === fault.digest && req.method === 'GET') {
      faultsLeft--;
      res.write(body.subarray(0, fault.afterBytes), () => {
        if (fault.mode === 'cut') res.socket?.destroy(); // after the bytes left: the client sees a reset mid-body
        onStalled();
      });
      if (fault.mode !== 'cut') hung.push(res); // never ends: the client sees a download that stopped moving
      return;
    }
    res.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stalled,
    ranges,
    passThrough: () => {
      faultsLeft = 0;
    },
    close: async () => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

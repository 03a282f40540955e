/**
 * Port-forward over SPDY/3.1 (`portforward.k8s.io`), as kubelet serves it: for every connection the client
 * opens an error stream and a data stream sharing a `requestid` header, both naming the `port`. Once the pair is
 * complete the port is dialed inside the pod's network namespace and bytes are copied both ways; a failure is
 * written on the error stream. Any number of pairs may run at once on one connection.
 */
import type { Duplex } from 'node:stream';
import { messageOf } from '../base/errors.js';
import type { PortForwardStreamRequest, StreamBackend } from './stream-backend.js';
import type { SpdySession, SpdyStream } from './spdy/index.js';

/** A pair whose second stream never comes is dropped after this (kubelet's stream creation timeout). */
const PAIR_TIMEOUT_MS = 30_000;

interface PendingPair {
  error?: SpdyStream;
  data?: SpdyStream;
  readonly timer: NodeJS.Timeout;
}

export function serveSpdyPortForward(
  backend: StreamBackend,
  req: PortForwardStreamRequest,
  session: SpdySession,
): Promise<void> {
  const pending = new Map<string, PendingPair>();
  session.on('stream', (stream: SpdyStream) => {
    const { streamtype, requestid, port } = stream.headers;
    if ((streamtype !== 'error' && streamtype !== 'data') || requestid === undefined || requestid === '') {
      stream.reset();
      return;
    }
    let pair = pending.get(requestid);
    if (pair === undefined) {
      const timer = setTimeout(() => {
        pending.delete(requestid);
        pair?.error?.reset();
        pair?.data?.reset();
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pending.set(requestid, pair);
    }
    if (streamtype === 'error') pair.error = stream;
    else pair.data = stream;
    if (pair.error !== undefined && pair.data !== undefined) {
      clearTimeout(pair.timer);
      pending.delete(requestid);
      void forward(backend, req, port ?? '', pair.error, pair.data);
    }
  });
  return new Promise((resolve) => session.once('close', () => resolve()));
}

async function forward(
  backend: StreamBackend,
  req: PortForwardStreamRequest,
  portHeader: string,
  error: SpdyStream,
  data: SpdyStream,
): Promise<void> {
  error.resume();
  const port = Number(portHeader);
  let conn: Duplex;
  try {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port "${portHeader}"`);
    if (req.ports.length > 0 && !req.ports.includes(port)) {
      throw new Error(`port ${port} was not requested (PortForward named ${req.ports.join(', ')})`);
    }
    conn = await backend.dial(req, port);
  } catch (err) {
    error.end(`error forwarding port ${portHeader} to pod ${req.podSandboxId}: ${messageOf(err)}`);
    data.end();
    return;
  }
  await new Promise<void>((resolve) => {
    data.pipe(conn);
    conn.pipe(data);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      conn.destroy();
      // The connection may close without 'end' (its write side failed once the dialer exited): the pipe then
      // never ends the data stream, and the client would wait for it forever. Everything read was written.
      if (!data.writableEnded) data.end();
      if (!error.writableEnded) error.end();
      resolve();
    };
    conn.once('close', finish);
    conn.once('error', finish);
    data.once('error', finish);
    data.once('close', finish);
  });
}

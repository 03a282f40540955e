import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GoawayStatus,
  RstStatus,
  STREAM_RECEIVE_BUFFER_BYTES,
  SpdySession,
} from '../../../src/streaming/spdy/index.js';
import type { SpdyStream } from '../../../src/streaming/spdy/index.js';
import {
  FLAG_FIN,
  FrameParser,
  encodeDataHeader,
  encodeHeaders,
  encodePing,
  encodeSynStream,
} from '../../../src/streaming/spdy/frames.js';
import type { Frame } from '../../../src/streaming/spdy/frames.js';
import {
  HeaderCompressor,
  HeaderDecompressor,
  parseHeaders,
  serializeHeaders,
} from '../../../src/streaming/spdy/header-block.js';

async function socketPair(): Promise<[Socket, Socket]> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  listener.close();
  return [client, server];
}

interface Pair {
  readonly client: SpdySession;
  readonly server: SpdySession;
  readonly clientSocket: Socket;
  readonly serverSocket: Socket;
}

async function sessionPair(t: TestContext): Promise<Pair> {
  const [clientSocket, serverSocket] = await socketPair();
  const client = new SpdySession(clientSocket, { isServer: false });
  const server = new SpdySession(serverSocket, { isServer: true });
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  return { client, server, clientSocket, serverSocket };
}

/** Reads to the peer's FIN. (Not `for await`: its iterator destroys the Duplex at the end, write side too.) */
async function readAll(stream: SpdyStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('close', () => reject(new Error(`stream ${stream.id} closed before its end`)));
  });
  return Buffer.concat(chunks);
}

const onceClosed = (session: SpdySession): Promise<void> =>
  new Promise<void>((resolve) => session.once('close', () => resolve()));

const nextStream = async (session: SpdySession): Promise<SpdyStream> =>
  ((await once(session, 'stream')) as [SpdyStream])[0];

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Polls a condition the code under test must reach (no timing is asserted, only that it happens). */
async function waitFor(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await sleep(5);
  }
  assert.fail(`never happened: ${what}`);
}

/** Reads frames from a raw socket standing in for a Go peer. */
class RawPeer {
  private readonly parser = new FrameParser();
  private readonly frames: Frame[] = [];
  private isEnded = false;
  private wake: (() => void) | null = null;
  readonly compressor = new HeaderCompressor();
  readonly decompressor = new HeaderDecompressor();

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      for (let f = this.parser.next(); f !== null; f = this.parser.next()) this.frames.push(f);
      this.wake?.();
    });
    socket.on('end', () => {
      this.isEnded = true;
      this.wake?.();
      socket.end();
    });
  }

  async next(): Promise<Frame | null> {
    while (this.frames.length === 0 && !this.isEnded) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.frames.shift() ?? null;
  }

  async nextNot(kind: Frame['kind']): Promise<Frame | null> {
    for (;;) {
      const f = await this.next();
      if (f === null || f.kind !== kind) return f;
    }
  }

  close(): void {
    this.compressor.close();
    this.decompressor.close();
    this.socket.destroy();
  }
}

async function rawClient(t: TestContext, opts: { head?: Buffer } = {}): Promise<[RawPeer, SpdySession]> {
  const [clientSocket, serverSocket] = await socketPair();
  const server = new SpdySession(serverSocket, { isServer: true, ...opts });
  const peer = new RawPeer(clientSocket);
  t.after(() => {
    peer.close();
    server.destroy();
  });
  return [peer, server];
}

describe('spdy session', () => {
  it('opens a stream, replies at once, and carries data and FIN both ways', async (t) => {
    const { client, server } = await sessionPair(t);
    const stream = client.openStream({ streamtype: 'stdout', Port: '80' });
    assert.equal(stream.id, 1);
    const [peerStream, reply] = await Promise.all([nextStream(server), once(stream, 'reply')]);
    assert.deepEqual({ ...peerStream.headers }, { streamtype: 'stdout', port: '80' });
    assert.deepEqual(
      reply.map((h: object) => ({ ...h })),
      [{}],
    );
    assert.deepEqual({ ...stream.replyHeaders }, {});
    stream.end('hello');
    assert.equal((await readAll(peerStream)).toString(), 'hello');
    peerStream.end('world');
    assert.equal((await readAll(stream)).toString(), 'world');
    assert.equal(client.activeStreamCount, 0);
    await waitFor('server forgets the stream', () => server.activeStreamCount === 0);
  });

  it('moves 10 MiB each way without loss, in one big write and in many small ones', async (t) => {
    const { client, server } = await sessionPair(t);
    const up = randomBytes(10 * 1024 * 1024);
    const down = randomBytes(10 * 1024 * 1024);
    const stream = client.openStream({ streamtype: 'data' });
    const peerStream = await nextStream(server);
    stream.end(up);
    const sending = (async () => {
      for (let offset = 0; offset < down.length; offset += 1000) {
        if (!peerStream.write(down.subarray(offset, offset + 1000))) await once(peerStream, 'drain');
      }
      peerStream.end();
    })();
    const [received, returned] = await Promise.all([readAll(peerStream), readAll(stream), sending]);
    assert.equal(received.length, up.length);
    assert.equal(sha256(received), sha256(up));
    assert.equal(returned.length, down.length);
    assert.equal(sha256(returned), sha256(down));
  });

  it('lets the server open streams too (even ids), answered by the client', async (t) => {
    const { client, server } = await sessionPair(t);
    const stream = server.openStream({ purpose: 'push' });
    assert.equal(stream.id, 2);
    const [peerStream] = await Promise.all([nextStream(client), once(stream, 'reply')]);
    assert.equal(peerStream.id, 2);
    assert.equal(peerStream.headers.purpose, 'push');
    peerStream.end('from client');
    stream.end();
    assert.equal((await readAll(stream)).toString(), 'from client');
  });

  it('handles a stream opened half-closed (SYN_STREAM with FIN), like the remotecommand error stream', async (t) => {
    const { client, server } = await sessionPair(t);
    const stream = client.openStream({ streamtype: 'error' }, { fin: true });
    const peerStream = await nextStream(server);
    assert.equal((await readAll(peerStream)).length, 0);
    peerStream.end('{"status":"Success"}');
    assert.equal((await readAll(stream)).toString(), '{"status":"Success"}');
    await waitFor('both sides forget the stream', () => client.activeStreamCount + server.activeStreamCount === 0);
  });

  it('resets a stream either way: reset() sends the status, destroy() sends CANCEL', async (t) => {
    const { client, server } = await sessionPair(t);
    const stream = client.openStream({ n: '1' });
    const peerStream = await nextStream(server);
    const closed = once(peerStream, 'close');
    const reset = once(peerStream, 'reset');
    stream.reset(RstStatus.REFUSED_STREAM);
    assert.deepEqual(await reset, [RstStatus.REFUSED_STREAM]);
    await closed;
    assert.equal(peerStream.resetStatus, RstStatus.REFUSED_STREAM);
    assert.equal(server.activeStreamCount, 0);
    assert.equal(client.activeStreamCount, 0);

    const second = client.openStream({ n: '2' });
    const secondPeer = await nextStream(server);
    const cancelled = once(second, 'reset');
    secondPeer.destroy();
    assert.deepEqual(await cancelled, [RstStatus.CANCEL]);
    // Writing to a reset stream fails that write but throws nothing and emits no unhandled error.
    await new Promise<void>((resolve) => second.write('late', () => resolve()));
  });

  it('answers pings both ways', async (t) => {
    const { client, server } = await sessionPair(t);
    const [fromClient, fromServer] = await Promise.all([client.ping(), server.ping(), client.ping()]);
    assert.ok(fromClient >= 0 && Number.isFinite(fromClient));
    assert.ok(fromServer >= 0 && Number.isFinite(fromServer));
  });

  it('GOAWAY stops new streams, lets open ones finish, then closes the connection', async (t) => {
    const { client, server } = await sessionPair(t);
    const stream = client.openStream({ n: '1' });
    const peerStream = await nextStream(server);
    const goaway = once(client, 'goaway');
    const closed = Promise.all([onceClosed(client), onceClosed(server)]);
    server.goaway();
    assert.deepEqual(await goaway, [1, GoawayStatus.OK]);
    assert.throws(() => client.openStream({ n: '2' }), /no new streams/);
    assert.throws(() => server.openStream({ n: '2' }), /no new streams/);
    stream.end('last words');
    assert.equal((await readAll(peerStream)).toString(), 'last words');
    peerStream.end('bye');
    assert.equal((await readAll(stream)).toString(), 'bye');
    await closed;
    assert.ok(client.isClosed && server.isClosed);
    await assert.rejects(client.ping(), /session closed/);
  });

  it('carries many concurrent streams', async (t) => {
    const { client, server } = await sessionPair(t);
    server.on('stream', (s: SpdyStream) => {
      void readAll(s).then((body) => s.end(`${s.headers.index}:${body.toString().toUpperCase()}`));
    });
    const count = 200;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const s = client.openStream({ index: String(i) });
        s.end(`stream ${i}`);
        return readAll(s).then((b) => b.toString());
      }),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: count }, (_, i) => `${i}:STREAM ${i}`),
    );
    await waitFor('all streams forgotten', () => client.activeStreamCount + server.activeStreamCount === 0);
  });

  it('pauses the socket when a reader falls behind instead of buffering without bound, and loses nothing', async (t) => {
    const { client, server, clientSocket } = await sessionPair(t);
    const stream = client.openStream({ streamtype: 'stdout' });
    const peerStream = await nextStream(server);
    const body = randomBytes(32 * 1024 * 1024);
    const sending = (async () => {
      for (let offset = 0; offset < body.length; offset += 256 * 1024) {
        if (!peerStream.write(body.subarray(offset, offset + 256 * 1024))) await once(peerStream, 'drain');
      }
      peerStream.end();
    })();
    await waitFor('client socket paused', () => clientSocket.isPaused());
    assert.ok(stream.readableLength < STREAM_RECEIVE_BUFFER_BYTES + 512 * 1024, `${stream.readableLength} buffered`);
    const [received] = await Promise.all([readAll(stream), sending]);
    assert.equal(sha256(received), sha256(body));
  });

  it('replies to a SYN_STREAM from a raw peer with an empty SYN_REPLY, and echoes its pings', async (t) => {
    const [peer, server] = await rawClient(t);
    const streams: SpdyStream[] = [];
    server.on('stream', (s: SpdyStream) => streams.push(s));
    const block = await peer.compressor.compress(serializeHeaders({ streamtype: 'error' }));
    peer.socket.write(Buffer.concat([encodeSynStream(1, 0, 0, FLAG_FIN, block), encodePing(1)]));
    const reply = await peer.next();
    assert.equal(reply?.kind, 'syn_reply');
    if (reply?.kind !== 'syn_reply') return;
    assert.equal(reply.streamId, 1);
    assert.deepEqual({ ...parseHeaders(await peer.decompressor.decompress(reply.headerBlock)) }, {});
    assert.deepEqual(await peer.next(), { kind: 'ping', id: 1 });
    assert.equal(streams[0]?.headers.streamtype, 'error');
  });

  it('processes bytes already read from the socket (the upgrade head) first', async (t) => {
    const [peer] = await rawClient(t, { head: encodePing(3) });
    peer.socket.write(encodePing(5));
    assert.deepEqual(await peer.next(), { kind: 'ping', id: 3 });
    assert.deepEqual(await peer.next(), { kind: 'ping', id: 5 });
  });

  it('ignores unknown control frames, and answers data on a stream that does not exist with INVALID_STREAM', async (t) => {
    const [peer] = await rawClient(t);
    const unknown = Buffer.from('8003000a' + '00000004' + 'deadbeef', 'hex');
    peer.socket.write(Buffer.concat([unknown, encodeDataHeader(9, 0, 2), Buffer.from('hi'), encodePing(7)]));
    assert.deepEqual(await peer.next(), { kind: 'rst_stream', streamId: 9, status: RstStatus.INVALID_STREAM });
    assert.deepEqual(await peer.next(), { kind: 'ping', id: 7 });
  });

  it('after its GOAWAY ignores new streams but still inflates their headers (the shared context stays in step)', async (t) => {
    const [peer, server] = await rawClient(t);
    const streams: SpdyStream[] = [];
    server.on('stream', (s: SpdyStream) => streams.push(s));
    const open = await peer.compressor.compress(serializeHeaders({ n: '1' }));
    peer.socket.write(encodeSynStream(1, 0, 0, 0, open));
    assert.equal((await peer.next())?.kind, 'syn_reply');
    server.goaway();
    assert.deepEqual(await peer.next(), { kind: 'goaway', lastGoodStreamId: 1, status: GoawayStatus.OK });
    const late = await peer.compressor.compress(serializeHeaders({ n: '3' }));
    const more = await peer.compressor.compress(serializeHeaders({ trailer: 'yes' }));
    const headersSeen = new Promise<unknown>((resolve) => streams[0]?.once('headers', resolve));
    peer.socket.write(Buffer.concat([encodeSynStream(3, 0, 0, 0, late), encodeHeaders(1, 0, more)]));
    assert.deepEqual({ ...((await headersSeen) as object) }, { trailer: 'yes' });
    assert.equal(streams.length, 1, 'stream 3 was ignored');
    streams[0]?.end();
    peer.socket.write(encodeDataHeader(1, FLAG_FIN, 0));
    assert.deepEqual(await peer.next(), { kind: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) });
    assert.equal(await peer.next(), null, 'the connection ends once the last stream is done');
  });

  it('acknowledges received data with WINDOW_UPDATE for the stream and the session', async (t) => {
    const [peer, server] = await rawClient(t);
    server.on('stream', (s: SpdyStream) => s.resume());
    const open = await peer.compressor.compress(serializeHeaders({}));
    const payload = Buffer.alloc(40 * 1024, 1);
    peer.socket.write(
      Buffer.concat([encodeSynStream(1, 0, 0, 0, open), encodeDataHeader(1, 0, payload.length), payload]),
    );
    const seen = [await peer.next(), await peer.next(), await peer.next()];
    assert.deepEqual(seen, [
      { kind: 'syn_reply', streamId: 1, flags: 0, headerBlock: (seen[0] as { headerBlock: Buffer }).headerBlock },
      { kind: 'window_update', streamId: 0, delta: payload.length },
      { kind: 'window_update', streamId: 1, delta: payload.length },
    ]);
  });

  const protocolErrors: ReadonlyArray<readonly [string, (peer: RawPeer) => Promise<Buffer>]> = [
    ['a DATA frame on stream 0', async () => Buffer.concat([encodeDataHeader(0, 0, 1), Buffer.from('x')])],
    ['a SPDY/2 frame', async () => Buffer.from('80020006' + '00000004' + '00000001', 'hex')],
    ['a header block that is not zlib', async () => encodeSynStream(1, 0, 0, 0, Buffer.from('garbage!'))],
    [
      'a stream id going backwards',
      async (peer) => {
        const a = await peer.compressor.compress(serializeHeaders({ a: '1' }));
        const b = await peer.compressor.compress(serializeHeaders({ a: '2' }));
        return Buffer.concat([encodeSynStream(5, 0, 0, 0, a), encodeSynStream(3, 0, 0, 0, b)]);
      },
    ],
    [
      'a server-parity stream id from a client',
      async (peer) => encodeSynStream(2, 0, 0, 0, await peer.compressor.compress(serializeHeaders({}))),
    ],
  ];
  for (const [what, build] of protocolErrors) {
    it(`answers ${what} with GOAWAY PROTOCOL_ERROR and closes, without throwing`, async (t) => {
      const [peer, server] = await rawClient(t);
      const errors: Error[] = [];
      server.on('error', (err: Error) => errors.push(err));
      const closed = onceClosed(server);
      peer.socket.write(await build(peer));
      const goaway = await peer.nextNot('syn_reply');
      assert.equal(goaway?.kind, 'goaway');
      if (goaway?.kind === 'goaway') assert.equal(goaway.status, GoawayStatus.PROTOCOL_ERROR);
      assert.equal(await peer.next(), null, 'nothing after GOAWAY');
      await closed;
      assert.equal(errors.length, 1);
      assert.match(errors[0]?.message ?? '', /^spdy: /);
    });
  }

  it('survives a protocol error with no error listener attached', async (t) => {
    const [peer, server] = await rawClient(t);
    const closed = onceClosed(server);
    peer.socket.write(Buffer.concat([encodeDataHeader(0, 0, 1), Buffer.from('x')]));
    assert.equal((await peer.next())?.kind, 'goaway');
    await closed;
  });

  it('survives random bytes after a valid stream opening, and closes when the peer hangs up', async (t) => {
    // A fixed-seed generator: the same garbage on every run.
    let seed = 0x2545f491;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let round = 0; round < 20; round++) {
      const [peer, server] = await rawClient(t);
      server.on('stream', (s: SpdyStream) => s.resume());
      const closed = onceClosed(server);
      const open = encodeSynStream(1, 0, 0, 0, await peer.compressor.compress(serializeHeaders({ round: `${round}` })));
      const garbage = Buffer.from(Array.from({ length: 512 + round * 97 }, random));
      peer.socket.write(Buffer.concat([open, garbage]));
      await sleep(5);
      peer.socket.end();
      await closed;
      assert.ok(server.isClosed);
    }
  });

  it('answers a bad header block inside good zlib with RST_STREAM, keeping the session', async (t) => {
    const [peer, server] = await rawClient(t);
    const streams: SpdyStream[] = [];
    server.on('stream', (s: SpdyStream) => streams.push(s));
    const bad = await peer.compressor.compress(Buffer.from('00000001' + '00000001' + '41' + '00000000', 'hex'));
    const good = await peer.compressor.compress(serializeHeaders({ ok: 'yes' }));
    peer.socket.write(Buffer.concat([encodeSynStream(1, 0, 0, 0, bad), encodeSynStream(3, 0, 0, 0, good)]));
    assert.deepEqual(await peer.next(), { kind: 'rst_stream', streamId: 1, status: RstStatus.PROTOCOL_ERROR });
    const reply = await peer.next();
    assert.equal(reply?.kind, 'syn_reply');
    assert.equal(streams.length, 1);
    assert.equal(streams[0]?.headers.ok, 'yes');
  });
});

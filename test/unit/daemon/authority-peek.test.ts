// The start of a CRI connection: the verdict waits for the first header block and the ACK of berthd's preface,
// takes that ACK out and keeps every other byte in order, whatever the chunking.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import hpack from 'hpack.js';
import { AuthorityPeek, EMPTY_SETTINGS_FRAME } from '../../../src/daemon/authority-peek.js';
import type { PeekVerdict } from '../../../src/daemon/authority-peek.js';
import { CLIENT_PREFACE as PREFACE, http2Frame as frame } from '../../harness/http2-frames.js';

const HEADERS = 0x1;
const SETTINGS = 0x4;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_HEADERS = 0x4;

function block(authority: string): Buffer {
  const enc = hpack.compressor.create({ table: { size: 4096 } });
  enc.write([
    { name: ':method', value: 'POST' },
    { name: ':scheme', value: 'http' },
    { name: ':path', value: '/runtime.v1.RuntimeService/Version' },
    { name: ':authority', value: authority },
    { name: 'content-type', value: 'application/grpc' },
  ]);
  const parts: Buffer[] = [];
  for (let b = enc.read(); b !== null; b = enc.read()) parts.push(b);
  return Buffer.concat(parts);
}

const clientSettings = frame(SETTINGS, 0, 0, Buffer.from([0, 2, 0, 0, 0, 0]));
const windowUpdate = frame(WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0xff, 0]));
const ack = frame(SETTINGS, 0x1, 0, Buffer.alloc(0));
const data = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 2, 10, 0]));

function feed(input: Buffer, chunkSize: number): { verdict: PeekVerdict | undefined; rest: Buffer } {
  const peek = new AuthorityPeek();
  for (let i = 0; i < input.length; i += chunkSize) {
    const verdict = peek.push(input.subarray(i, i + chunkSize));
    if (verdict !== undefined) return { verdict, rest: input.subarray(i + chunkSize) };
  }
  return { verdict: undefined, rest: Buffer.alloc(0) };
}

describe('authority peek', () => {
  it('sends an empty SETTINGS frame on stream 0 as the preface', () => {
    assert.deepEqual([...EMPTY_SETTINGS_FRAME], [0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
  });

  for (const chunkSize of [1, 5, 100_000]) {
    it(`decides for a valid :authority once HEADERS and the ACK are in, the ACK removed (chunks of ${chunkSize})`, () => {
      const headers = frame(HEADERS, END_HEADERS, 1, block('localhost'));
      const input = Buffer.concat([PREFACE, clientSettings, windowUpdate, ack, headers, data]);
      const { verdict, rest } = feed(input, chunkSize);
      assert.equal(verdict?.needsRewrite, false);
      const handedOn = Buffer.concat([verdict.bytes, rest]);
      assert.deepEqual(handedOn, Buffer.concat([PREFACE, clientSettings, windowUpdate, headers, data]));
    });
  }

  it('waits for the ACK when it comes after the first request, and finds a socket path in CONTINUATION', () => {
    const b = block('/run/berth/berth.sock');
    const headers = frame(HEADERS, 0, 1, b.subarray(0, 10));
    const continuation = frame(CONTINUATION, END_HEADERS, 1, b.subarray(10));
    const second = frame(SETTINGS, 0x1, 0, Buffer.alloc(0));
    const input = Buffer.concat([PREFACE, clientSettings, headers, continuation, data, ack, second]);
    const peek = new AuthorityPeek();
    assert.equal(peek.push(input.subarray(0, input.length - ack.length - second.length)), undefined);
    const verdict = peek.push(Buffer.concat([ack, second]));
    assert.equal(verdict?.needsRewrite, true);
    // Only the first ACK is berthd's; the second belongs to the session's own SETTINGS and stays.
    assert.deepEqual(verdict?.bytes, Buffer.concat([PREFACE, clientSettings, headers, continuation, data, second]));
  });

  it('reads past padding and priority in HEADERS', () => {
    const b = block('localhost');
    const payload = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), b, Buffer.alloc(3)]);
    const headers = frame(HEADERS, END_HEADERS | 0x8 | 0x20, 1, payload);
    const { verdict } = feed(Buffer.concat([PREFACE, clientSettings, ack, headers]), 7);
    assert.equal(verdict?.needsRewrite, false);
  });

  it('refuses a connection that does not start with the HTTP/2 preface', () => {
    const peek = new AuthorityPeek();
    assert.throws(() => peek.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), /bad client preface/);
  });

  it('gives up on a client that sends a megabyte without a request', () => {
    const peek = new AuthorityPeek();
    peek.push(Buffer.concat([PREFACE, clientSettings, ack]));
    const ping = frame(0x6, 0, 0, Buffer.alloc(8));
    assert.throws(() => {
      for (let i = 0; i < 100_000; i++) peek.push(ping);
    }, /no request/);
  });
});

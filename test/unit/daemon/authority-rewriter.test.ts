// The HTTP/2 splice that lets crictl v1.26 (which sends the socket path as :authority) talk to berthd.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import hpack from 'hpack.js';
import type { HpackHeader } from 'hpack.js';
import { AuthorityRewriter, isValidAuthority } from '../../../src/daemon/authority-rewriter.js';
import { CLIENT_PREFACE as PREFACE, http2Frame as frame } from '../../harness/http2-frames.js';

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

function parseFrames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const len = bytes.readUIntBE(pos, 3);
    out.push({
      type: bytes[pos + 3]!,
      flags: bytes[pos + 4]!,
      streamId: bytes.readUInt32BE(pos + 5),
      payload: bytes.subarray(pos + 9, pos + 9 + len),
    });
    pos += 9 + len;
  }
  return out;
}

async function run(input: Buffer, chunkSize: number): Promise<{ out: Buffer; rewrites: number }> {
  const rw = new AuthorityRewriter();
  const chunks: Buffer[] = [];
  rw.on('data', (c: Buffer) => chunks.push(c));
  for (let i = 0; i < input.length; i += chunkSize) rw.write(input.subarray(i, i + chunkSize));
  rw.end();
  await new Promise((r) => rw.on('end', r));
  return { out: Buffer.concat(chunks), rewrites: rw.rewrites };
}

function decodeBlocks(frames: readonly Frame[]): HpackHeader[][] {
  const dec = hpack.decompressor.create({ table: { size: 4096 } });
  return frames
    .filter((f) => f.type === 1)
    .map((f) => {
      dec.write(f.payload);
      dec.execute();
      const hs: HpackHeader[] = [];
      for (let h = dec.read(); h !== null; h = dec.read()) hs.push(h);
      return hs;
    });
}

describe('authority rewriter', () => {
  it('knows valid authorities', () => {
    assert.equal(isValidAuthority('localhost'), true);
    assert.equal(isValidAuthority('127.0.0.1:5000'), true);
    assert.equal(isValidAuthority('[::1]:80'), true);
    assert.equal(isValidAuthority('/run/berth/berth.sock'), false);
    assert.equal(isValidAuthority('a b'), false);
  });

  for (const chunkSize of [1, 7, 4096]) {
    it(`replaces a socket-path :authority, keeps everything else (chunks of ${chunkSize})`, async () => {
      const enc = hpack.compressor.create({ table: { size: 4096 } });
      const headers = (authority: string): HpackHeader[] => [
        { name: ':method', value: 'POST' },
        { name: ':scheme', value: 'http' },
        { name: ':path', value: '/runtime.v1.RuntimeService/Version' },
        { name: ':authority', value: authority },
        { name: 'content-type', value: 'application/grpc' },
      ];
      const block = (hs: HpackHeader[]): Buffer => {
        enc.write(hs);
        const parts: Buffer[] = [];
        for (let b = enc.read(); b !== null; b = enc.read()) parts.push(b);
        return Buffer.concat(parts);
      };
      const first = block(headers('/run/berth/berth.sock'));
      // The second request refers to the client's dynamic table entries made by the first.
      const second = block(headers('/run/berth/berth.sock'));
      const settings = frame(4, 0, 0, Buffer.alloc(0));
      const data = frame(0, 1, 1, Buffer.from('\0\0\0\0\0'));
      const input = Buffer.concat([
        PREFACE,
        settings,
        frame(1, 0x4, 1, first),
        data,
        // a split block: HEADERS without END_HEADERS, then CONTINUATION
        frame(1, 0x1, 3, second.subarray(0, 3)),
        frame(9, 0x4, 3, second.subarray(3)),
      ]);
      const { out, rewrites } = await run(input, chunkSize);
      assert.equal(rewrites, 2);
      assert.deepEqual(out.subarray(0, 24), PREFACE);
      const frames = parseFrames(out.subarray(24));
      assert.deepEqual(
        frames.map((f) => [f.type, f.flags, f.streamId]),
        [
          [4, 0, 0],
          [1, 0x4, 1],
          [0, 1, 1],
          [1, 0x5, 3],
        ],
      );
      assert.deepEqual(frames[2]!.payload, Buffer.from('\0\0\0\0\0'));
      for (const hs of decodeBlocks(frames)) {
        assert.equal(hs.find((h) => h.name === ':authority')?.value, 'localhost');
        assert.equal(hs.find((h) => h.name === ':path')?.value, '/runtime.v1.RuntimeService/Version');
        assert.equal(hs.length, 5);
      }
    });
  }

  it('leaves a valid :authority alone', async () => {
    const enc = hpack.compressor.create({ table: { size: 4096 } });
    enc.write([{ name: ':authority', value: 'localhost:1234' }]);
    const block = enc.read()!;
    const { out, rewrites } = await run(Buffer.concat([PREFACE, frame(1, 0x4, 1, block)]), 100);
    assert.equal(rewrites, 0);
    assert.equal(decodeBlocks(parseFrames(out.subarray(24)))[0]?.[0]?.value, 'localhost:1234');
  });
});

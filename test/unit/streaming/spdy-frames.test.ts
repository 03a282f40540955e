import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  FrameType,
  SpdyFrameError,
  encodeDataHeader,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../../src/streaming/spdy/frames.js';
import type { Frame } from '../../../src/streaming/spdy/frames.js';

function parseAll(bytes: Buffer, chunkBytes = bytes.length): Frame[] {
  const parser = new FrameParser();
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i += chunkBytes) {
    parser.push(bytes.subarray(i, i + chunkBytes));
    for (let f = parser.next(); f !== null; f = parser.next()) frames.push(f);
  }
  assert.equal(parser.pendingBytes, 0);
  return frames;
}

function dataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeDataHeader(streamId, flags, payload.length), payload]);
}

/** A control frame built field by field from the spec's layout (not through our encoders). */
function rawControl(type: number, flags: number, payload: Buffer, version = 3): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | version, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([head, payload]);
}

const block = Buffer.from('compressed-header-block');
const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));

const allFrames = (): Buffer =>
  Buffer.concat([
    encodeSynStream(1, 0, 3, FLAG_FIN | FLAG_UNIDIRECTIONAL, block),
    encodeSynReply(1, FLAG_FIN, block),
    encodeHeaders(3, 0, block),
    dataFrame(5, FLAG_FIN, payload),
    dataFrame(7, 0, Buffer.alloc(0)),
    encodeRstStream(9, 5),
    encodeSettings([
      { flags: 1, id: 7, value: 65536 },
      { flags: 0, id: 4, value: 100 },
    ]),
    encodePing(2),
    encodeGoaway(11, 1),
    encodeWindowUpdate(0, 32768),
  ]);

const expected: Frame[] = [
  {
    kind: 'syn_stream',
    streamId: 1,
    associatedStreamId: 0,
    priority: 3,
    flags: FLAG_FIN | FLAG_UNIDIRECTIONAL,
    headerBlock: block,
  },
  { kind: 'syn_reply', streamId: 1, flags: FLAG_FIN, headerBlock: block },
  { kind: 'headers', streamId: 3, flags: 0, headerBlock: block },
  { kind: 'data', streamId: 5, flags: FLAG_FIN, data: payload },
  { kind: 'data', streamId: 7, flags: 0, data: Buffer.alloc(0) },
  { kind: 'rst_stream', streamId: 9, status: 5 },
  {
    kind: 'settings',
    flags: 0,
    entries: [
      { flags: 1, id: 7, value: 65536 },
      { flags: 0, id: 4, value: 100 },
    ],
  },
  { kind: 'ping', id: 2 },
  { kind: 'goaway', lastGoodStreamId: 11, status: 1 },
  { kind: 'window_update', streamId: 0, delta: 32768 },
];

describe('spdy frames', () => {
  it('round-trips every frame type', () => {
    assert.deepEqual(parseAll(allFrames()), expected);
  });

  it('reassembles frames fed one byte at a time', () => {
    assert.deepEqual(parseAll(allFrames(), 1), expected);
  });

  it('reassembles frames fed in odd-sized chunks', () => {
    assert.deepEqual(parseAll(allFrames(), 7), expected);
    assert.deepEqual(parseAll(allFrames(), 65_537), expected);
  });

  it('lays out fixed frames exactly as the spec (and Go) expect', () => {
    assert.equal(encodeRstStream(3, 5).toString('hex'), '80030003' + '00000008' + '00000003' + '00000005');
    assert.equal(encodeGoaway(7, 0).toString('hex'), '80030007' + '00000008' + '00000007' + '00000000');
    assert.equal(encodePing(2).toString('hex'), '80030006' + '00000004' + '00000002');
    assert.equal(encodeWindowUpdate(1, 4096).toString('hex'), '80030009' + '00000008' + '00000001' + '00001000');
    assert.equal(encodeDataHeader(5, FLAG_FIN, 3).toString('hex'), '00000005' + '01000003');
    // SYN_STREAM: id, associated id, priority in the top 3 bits, slot, then the block.
    assert.equal(
      encodeSynStream(1, 0, 0, FLAG_FIN, Buffer.from('ab')).toString('hex'),
      '80030001' + '0100000c' + '00000001' + '00000000' + '0000' + '6162',
    );
    assert.equal(
      encodeSynReply(1, 0, Buffer.from('ab')).toString('hex'),
      '80030002' + '00000006' + '00000001' + '6162',
    );
  });

  it('reports an unknown control type as such (the session ignores it)', () => {
    assert.deepEqual(parseAll(rawControl(0x0a, 0, Buffer.alloc(12))), [{ kind: 'unknown', type: 10, flags: 0 }]);
  });

  it('waits for a frame that has not fully arrived', () => {
    const parser = new FrameParser();
    const bytes = dataFrame(1, 0, Buffer.from('hello'));
    parser.push(bytes.subarray(0, 10));
    assert.equal(parser.next(), null);
    parser.push(bytes.subarray(10));
    assert.deepEqual(parser.next(), { kind: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') });
  });

  const malformed: ReadonlyArray<readonly [string, Buffer]> = [
    ['DATA on stream 0', dataFrame(0, 0, Buffer.from('x'))],
    ['a control frame of another version', rawControl(FrameType.PING, 0, Buffer.alloc(4), 2)],
    ['a PING of 8 bytes', rawControl(FrameType.PING, 0, Buffer.alloc(8))],
    ['a GOAWAY of 4 bytes (SPDY/2 layout)', rawControl(FrameType.GOAWAY, 0, Buffer.alloc(4))],
    ['a RST_STREAM with status 0', rawControl(FrameType.RST_STREAM, 0, Buffer.from('0000000100000000', 'hex'))],
    ['a RST_STREAM on stream 0', rawControl(FrameType.RST_STREAM, 0, Buffer.from('0000000000000001', 'hex'))],
    ['a SYN_STREAM too short for its fields', rawControl(FrameType.SYN_STREAM, 0, Buffer.alloc(6))],
    ['a SYN_STREAM on stream 0', rawControl(FrameType.SYN_STREAM, 0, Buffer.alloc(12))],
    [
      'a SETTINGS whose count disagrees with its length',
      rawControl(FrameType.SETTINGS, 0, Buffer.from('00000002', 'hex')),
    ],
    ['a WINDOW_UPDATE of 4 bytes', rawControl(FrameType.WINDOW_UPDATE, 0, Buffer.alloc(4))],
  ];
  for (const [what, bytes] of malformed) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseAll(bytes), SpdyFrameError);
    });
  }

  it('refuses a frame over the size limit as soon as its header arrives', () => {
    const parser = new FrameParser(1024);
    parser.push(encodeDataHeader(1, 0, 4096));
    assert.throws(() => parser.next(), /exceeds the 1024-byte limit/);
  });
});

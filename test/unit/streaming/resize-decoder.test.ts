import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResizeDecoder } from '../../../src/streaming/index.js';
import type { TerminalSize } from '../../../src/streaming/index.js';

function decode(chunks: readonly string[]): TerminalSize[] {
  const sizes: TerminalSize[] = [];
  const d = new ResizeDecoder((s) => sizes.push(s));
  for (const c of chunks) d.push(Buffer.from(c));
  return sizes;
}

describe('ResizeDecoder', () => {
  it('reads newline-separated objects', () => {
    assert.deepEqual(decode(['{"Width":80,"Height":24}\n{"Width":100,"Height":40}\n']), [
      { width: 80, height: 24 },
      { width: 100, height: 40 },
    ]);
  });

  it('reads objects split across chunks and glued together', () => {
    const text = '{"Width":80,"Height":24}{"Width":120,"Height":50}';
    const oneByte = [...text];
    assert.deepEqual(decode(oneByte), [
      { width: 80, height: 24 },
      { width: 120, height: 50 },
    ]);
  });

  it('ignores braces inside strings and junk objects', () => {
    assert.deepEqual(
      decode(['{"x":"}{","Width":1,"Height":2}', '{"Width":-1,"Height":2}', '{bad}', '{"Width":3,"Height":4}']),
      [
        { width: 1, height: 2 },
        { width: 3, height: 4 },
      ],
    );
  });

  it('drops a runaway message instead of buffering it', () => {
    const sizes: TerminalSize[] = [];
    const d = new ResizeDecoder((s) => sizes.push(s));
    d.push(Buffer.from(`{"Width":${'1'.repeat(5000)}`));
    d.push(Buffer.from('{"Width":5,"Height":6}'));
    assert.deepEqual(sizes, [{ width: 5, height: 6 }]);
  });
});

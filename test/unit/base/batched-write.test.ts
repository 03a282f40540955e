import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batched, writeBatched } from '../../../src/base/batched-write.js';

async function* pieces(sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let n = 0;
  for (const size of sizes) yield Buffer.from(Array.from({ length: size }, () => n++ % 251));
}

describe('batched writes', () => {
  it('regroups chunks into batches of at least the size, keeping order and bytes', async () => {
    const sizes = [3, 4, 1, 9, 2];
    const out: Buffer[] = [];
    for await (const b of batched(pieces(sizes), 8)) out.push(b);
    assert.deepEqual(
      out.map((b) => b.length),
      [8, 9, 2],
    );
    const whole = Buffer.concat(out);
    assert.deepEqual(
      [...whole],
      Array.from({ length: 19 }, (_, i) => i % 251),
    );
  });

  it('yields nothing for an empty source', async () => {
    for await (const _ of batched(pieces([]), 8)) assert.fail('no batch expected');
  });

  it('writes every byte to the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-batched-'));
    try {
      const fh = await open(join(dir, 'f'), 'w');
      const sizes = Array.from({ length: 300 }, (_, i) => 1000 + i * 37);
      const total = await writeBatched(fh, pieces(sizes));
      await fh.close();
      const bytes = await readFile(join(dir, 'f'));
      assert.equal(total, bytes.length);
      assert.equal(
        bytes.length,
        sizes.reduce((a, b) => a + b, 0),
      );
      assert.ok(bytes.every((b, i) => b === i % 251));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

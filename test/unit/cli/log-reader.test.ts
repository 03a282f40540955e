import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readCriLog } from '../../../src/cli/log-reader.js';
import type { CriLogReadOptions, CriLogReader, LogOutput } from '../../../src/cli/log-reader.js';
import { findTailStart } from '../../../src/cli/log-tail.js';

type Stream = 'stdout' | 'stderr';
type Tag = 'F' | 'P';

/** A record line `n` seconds after 2026-11-22T00:00:00 (Z form unless an offset is given). */
function rec(n: number, stream: Stream, tag: Tag, text: string, zone = 'Z'): string {
  const seconds = new Date(Date.UTC(2026, 10, 22) + n * 1000).toISOString().slice(0, 19);
  return `${seconds}.000000${String(n % 1000).padStart(3, '0')}${zone} ${stream} ${tag} ${text}\n`;
}

const out = (n: number, text: string): string => rec(n, 'stdout', 'F', text);
const err = (n: number, text: string): string => rec(n, 'stderr', 'F', text);

async function collect(reader: CriLogReader): Promise<LogOutput[]> {
  const outputs: LogOutput[] = [];
  for await (const output of reader) outputs.push(output);
  return outputs;
}

function texts(outputs: readonly LogOutput[]): string[] {
  return outputs.map((o) => o.bytes.toString('utf8'));
}

/** Pulls outputs from a running follower until `count` arrived or `timeoutMs` passed. */
class Follower {
  readonly outputs: LogOutput[] = [];
  readonly done: Promise<void>;
  private readonly iterator: AsyncIterator<LogOutput>;
  private waiters: Array<() => void> = [];
  isDone = false;

  constructor(readonly reader: CriLogReader) {
    this.iterator = reader[Symbol.asyncIterator]();
    this.done = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) return;
        this.outputs.push(next.value);
        this.waiters.forEach((w) => w());
      }
    } finally {
      this.isDone = true;
      this.waiters.forEach((w) => w());
    }
  }

  async waitFor(count: number, timeoutMs = 3000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.outputs.length < count && !this.isDone && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return texts(this.outputs);
  }
}

describe('readCriLog', () => {
  let dir = '';
  let counter = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-log-reader-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function logFile(content: string | Buffer): Promise<string> {
    counter += 1;
    const path = join(dir, `c${counter}.log`);
    await writeFile(path, content);
    return path;
  }

  async function read(content: string, options: CriLogReadOptions = {}): Promise<string[]> {
    return texts(await collect(readCriLog(await logFile(content), options)));
  }

  describe('one-shot', () => {
    it('prints every full line with its newline, routed by stream', async () => {
      const outputs = await collect(readCriLog(await logFile(out(1, 'a') + err(2, 'b') + out(3, 'c'))));
      assert.deepEqual(
        outputs.map((o) => [o.stream, o.bytes.toString()]),
        [
          ['stdout', 'a\n'],
          ['stderr', 'b\n'],
          ['stdout', 'c\n'],
        ],
      );
    });

    it('joins P records with the F that ends them, per stream', async () => {
      const content =
        rec(1, 'stdout', 'P', 'hel') +
        rec(2, 'stderr', 'P', 'wo') +
        rec(3, 'stdout', 'P', 'lo ') +
        rec(4, 'stderr', 'F', 'rld') +
        rec(5, 'stdout', 'F', 'there');
      assert.deepEqual(await read(content), ['world\n', 'hello there\n']);
    });

    it('gives a joined line the timestamp of its first record', async () => {
      const content = rec(1, 'stdout', 'P', 'ab') + rec(2, 'stdout', 'F', 'cd');
      assert.deepEqual(await read(content, { timestamps: true }), ['2026-11-22T00:00:01.000000001Z abcd\n']);
    });

    it('prints an open P run at the end of the file without a newline', async () => {
      assert.deepEqual(await read(out(1, 'a') + rec(2, 'stdout', 'P', 'unfinished')), ['a\n', 'unfinished']);
    });

    it('reads a last record that has no newline yet', async () => {
      assert.deepEqual(await read(out(1, 'a') + out(2, 'b').trimEnd()), ['a\n', 'b\n']);
    });

    it('skips malformed lines and counts them', async () => {
      const reader = readCriLog(
        await logFile(out(1, 'a') + 'garbage\n' + '\n' + '2026-11-22T00:00:00Z stdin F x\n' + out(2, 'b')),
      );
      assert.deepEqual(texts(await collect(reader)), ['a\n', 'b\n']);
      assert.equal(reader.stats.malformedLines, 2);
    });

    it('keeps bytes that are not UTF-8 intact', async () => {
      const path = await logFile(
        Buffer.concat([
          Buffer.from('2026-11-22T00:00:00Z stdout F '),
          Buffer.from([0xc3, 0x28, 0xff]),
          Buffer.from('\n'),
        ]),
      );
      const [output] = await collect(readCriLog(path));
      assert.deepEqual([...(output?.bytes ?? [])], [0xc3, 0x28, 0xff, 0x0a]);
    });

    it('filters by stream', async () => {
      const content = out(1, 'o1') + err(2, 'e1') + out(3, 'o2');
      assert.deepEqual(await read(content, { streams: 'stdout' }), ['o1\n', 'o2\n']);
      assert.deepEqual(await read(content, { streams: 'stderr' }), ['e1\n']);
    });

    it('prefixes timestamps as crictl does, keeping the writer offset', async () => {
      const content =
        rec(1, 'stdout', 'F', 'local', '+01:00') + rec(2, 'stdout', 'F', 'utc', '+00:00') + out(3, 'zulu');
      assert.deepEqual(await read(content, { timestamps: true }), [
        '2026-11-22T00:00:01.000000001+01:00 local\n',
        '2026-11-22T00:00:02.000000002Z utc\n',
        '2026-11-22T00:00:03.000000003Z zulu\n',
      ]);
    });

    it('keeps lines at or after --since, comparing instants across offsets', async () => {
      const content = out(10, 'old') + out(20, 'edge') + rec(30, 'stdout', 'F', 'offset', '-01:00') + out(40, 'new');
      // 00:00:30-01:00 is 01:00:30Z, later than everything else.
      const since = new Date('2026-11-22T00:00:20.000Z');
      assert.deepEqual(await read(content, { since }), ['edge\n', 'offset\n', 'new\n']);
      assert.deepEqual(await read(content, { since: new Date('2026-11-22T00:30:00Z') }), ['offset\n']);
      assert.deepEqual(await read(content, { since: new Date('2027-01-01T00:00:00Z') }), []);
    });

    it('cuts output at --limit-bytes, timestamps included', async () => {
      const content = out(1, 'abcd') + out(2, 'efgh');
      assert.deepEqual(await read(content, { limitBytes: 7 }), ['abcd\n', 'ef']);
      assert.deepEqual(await read(content, { limitBytes: 5 }), ['abcd\n']);
      assert.deepEqual(await read(content, { limitBytes: 0 }), []);
      assert.deepEqual(await read(content, { limitBytes: 10, timestamps: true }), ['2026-11-22']);
    });

    it('stops a one-shot read when the signal aborts', async () => {
      const path = await logFile([...Array(20_000).keys()].map((n) => out(n, `line ${n}`)).join(''));
      const controller = new AbortController();
      const reader = readCriLog(path, { signal: controller.signal, chunkBytes: 4096 });
      let count = 0;
      for await (const _ of reader) {
        count += 1;
        if (count === 10) controller.abort();
      }
      assert.ok(count < 200, `printed ${count} lines after the abort`);
      assert.ok(reader.stats.bytesRead < 10_000, `read ${reader.stats.bytesRead} bytes`);
    });

    it('can be iterated once only', async () => {
      const reader = readCriLog(await logFile(out(1, 'a')));
      assert.deepEqual(texts(await collect(reader)), ['a\n']);
      await assert.rejects(collect(reader), /already read/);
    });

    it('refuses bad options and a missing file with clear errors', async () => {
      assert.throws(() => readCriLog('/x', { tail: -2 }), /tail -2/);
      assert.throws(() => readCriLog('/x', { tail: 1.5 }), /tail 1.5/);
      assert.throws(() => readCriLog('/x', { limitBytes: -5 }), /limit bytes/);
      assert.throws(() => readCriLog('/x', { since: new Date('nonsense') }), /since/);
      await assert.rejects(collect(readCriLog(join(dir, 'missing.log'))), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'NOT_FOUND');
        assert.match(e.message, /missing\.log/);
        return true;
      });
    });
  });

  describe('tail', () => {
    const five = [1, 2, 3, 4, 5].map((n) => out(n, `line${n}`)).join('');

    it('prints nothing for 0, the last line for 1, everything for N past the count', async () => {
      assert.deepEqual(await read(five, { tail: 0 }), []);
      assert.deepEqual(await read(five, { tail: 1 }), ['line5\n']);
      assert.deepEqual(await read(five, { tail: 3 }), ['line3\n', 'line4\n', 'line5\n']);
      assert.deepEqual(await read(five, { tail: 50 }), ['line1\n', 'line2\n', 'line3\n', 'line4\n', 'line5\n']);
      assert.deepEqual(await read(five, { tail: -1 }), ['line1\n', 'line2\n', 'line3\n', 'line4\n', 'line5\n']);
      assert.deepEqual(await read('', { tail: 3 }), []);
    });

    it('counts a joined P run as one line', async () => {
      const content =
        out(1, 'a') +
        rec(2, 'stdout', 'P', 'b1') +
        rec(3, 'stdout', 'P', 'b2') +
        rec(4, 'stdout', 'F', 'b3') +
        out(5, 'c');
      assert.deepEqual(await read(content, { tail: 2 }), ['b1b2b3\n', 'c\n']);
      assert.deepEqual(await read(content, { tail: 1 }), ['c\n']);
    });

    it('finds a line whose P records interleave with an unwanted line of the other stream', async () => {
      const content =
        rec(1, 'stderr', 'P', 'e1') +
        rec(2, 'stdout', 'P', 'o1') +
        rec(3, 'stderr', 'F', 'e2') +
        rec(4, 'stdout', 'F', 'o2');
      assert.deepEqual(await read(content, { tail: 1 }), ['o1o2\n']);
      assert.deepEqual(await read(content, { tail: 2 }), ['e1e2\n', 'o1o2\n']);
    });

    it('counts only the selected stream and ignores malformed lines', async () => {
      const content = out(1, 'o1') + err(2, 'e1') + 'junk\n' + out(3, 'o2') + err(4, 'e2') + 'junk\n';
      assert.deepEqual(await read(content, { tail: 1, streams: 'stdout' }), ['o2\n']);
      assert.deepEqual(await read(content, { tail: 2, streams: 'stderr' }), ['e1\n', 'e2\n']);
      assert.deepEqual(await read(content, { tail: 3 }), ['e1\n', 'o2\n', 'e2\n']);
    });

    it('combines with --since: lines of the tail before since are dropped', async () => {
      assert.deepEqual(await read(five, { tail: 3, since: new Date('2026-11-22T00:00:04Z') }), ['line4\n', 'line5\n']);
    });

    it('works across chunk boundaries with a tiny chunk size', async () => {
      const content =
        [...Array(40).keys()].map((n) => out(n, `l${n}`)).join('') +
        rec(50, 'stdout', 'P', 'x') +
        rec(51, 'stdout', 'F', 'y');
      for (const chunkBytes of [1, 7, 64, 4096]) {
        assert.deepEqual(
          await read(content, { tail: 3, chunkBytes }),
          ['l38\n', 'l39\n', 'xy\n'],
          `chunk ${chunkBytes}`,
        );
        assert.equal((await read(content, { chunkBytes })).length, 41, `chunk ${chunkBytes}`);
      }
    });

    it('does not scan back to the previous record of a rare stream', async () => {
      const lines = [err(0, 'the only stderr line')];
      for (let n = 1; n < 100_000; n += 1) lines.push(out(n, `stdout line ${n} ${'y'.repeat(60)}`));
      lines.push(err(100_000, 'late stderr'));
      const reader = readCriLog(await logFile(lines.join('')), { tail: 2 });
      assert.deepEqual(texts(await collect(reader)), [`stdout line 99999 ${'y'.repeat(60)}\n`, 'late stderr\n']);
      assert.ok(reader.stats.bytesRead < 1024 * 1024, `read ${reader.stats.bytesRead} bytes`);
    });

    it('reads only the end of a big file (100k lines)', async () => {
      const lines: string[] = [];
      for (let n = 0; n < 100_000; n += 1)
        lines.push(rec(n, n % 10 === 0 ? 'stderr' : 'stdout', 'F', `message number ${n} ${'x'.repeat(40)}`));
      const path = await logFile(lines.join(''));
      const size = lines.reduce((sum, l) => sum + l.length, 0);

      const started = performance.now();
      const reader = readCriLog(path, { tail: 10 });
      const outputs = await collect(reader);
      const tailMs = performance.now() - started;
      assert.equal(outputs.length, 10);
      assert.match(outputs[9]?.bytes.toString() ?? '', /^message number 99999 /);
      assert.ok(reader.stats.bytesRead < 200_000, `tail read ${reader.stats.bytesRead} of ${size} bytes`);
      assert.ok(tailMs < 500, `tail took ${tailMs} ms`);

      const allStarted = performance.now();
      const all = readCriLog(path);
      let count = 0;
      for await (const _ of all) count += 1;
      const allMs = performance.now() - allStarted;
      assert.equal(count, 100_000);
      assert.ok(allMs < 5000, `reading 100k lines took ${allMs} ms`);

      const fh = await open(path, 'r');
      try {
        const start = await findTailStart(fh, size, 25_000, {
          streams: new Set(['stdout', 'stderr']),
          includeUnterminated: true,
        });
        // Line 75000 is stderr: the scan runs back to the previous stderr record (74990) for its P records,
        // and the nine stdout lines in between are skipped by count.
        assert.equal(
          start.offset,
          lines.slice(0, 74_991).reduce((sum, l) => sum + l.length, 0),
        );
        assert.equal(start.skipLines, 9);
      } finally {
        await fh.close();
      }
    });
  });

  describe('follow', () => {
    const fast = { follow: true, pollMs: 20, stopCheckMs: 0 } as const;

    it('sees lines appended later, and a P run completed later', async () => {
      const path = await logFile(out(1, 'first'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, signal: controller.signal }));
      assert.deepEqual(await f.waitFor(1), ['first\n']);
      await appendFile(path, out(2, 'second') + rec(3, 'stdout', 'P', 'par'));
      assert.deepEqual(await f.waitFor(2), ['first\n', 'second\n']);
      await appendFile(path, rec(4, 'stdout', 'F', 'tial'));
      assert.deepEqual(await f.waitFor(3), ['first\n', 'second\n', 'partial\n']);
      controller.abort();
      await f.done;
    });

    it('waits for a record whose newline has not been written yet', async () => {
      const path = await logFile(out(1, 'a'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, signal: controller.signal }));
      await f.waitFor(1);
      const line = out(2, 'split across writes');
      await appendFile(path, line.slice(0, 30));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(texts(f.outputs), ['a\n']);
      await appendFile(path, line.slice(30));
      assert.deepEqual(await f.waitFor(2), ['a\n', 'split across writes\n']);
      assert.equal(f.reader.stats.malformedLines, 0);
      controller.abort();
      await f.done;
    });

    it('with --tail 0 prints only new lines, including a record half-written at the start', async () => {
      const line = out(2, 'half written');
      const path = await logFile(out(1, 'old') + line.slice(0, 25));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, tail: 0, signal: controller.signal }));
      await new Promise((resolve) => setTimeout(resolve, 60));
      await appendFile(path, line.slice(25) + out(3, 'new'));
      assert.deepEqual(await f.waitFor(2), ['half written\n', 'new\n']);
      assert.equal(f.reader.stats.malformedLines, 0);
      controller.abort();
      await f.done;
    });

    it('starts from --tail and then follows', async () => {
      const path = await logFile(out(1, 'a') + out(2, 'b') + out(3, 'c'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, tail: 1, signal: controller.signal }));
      assert.deepEqual(await f.waitFor(1), ['c\n']);
      await appendFile(path, out(4, 'd'));
      assert.deepEqual(await f.waitFor(2), ['c\n', 'd\n']);
      controller.abort();
      await f.done;
    });

    it('continues with the new file after rename + reopen, losing and repeating nothing', async () => {
      const path = await logFile(out(1, 'one') + out(2, 'two'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, signal: controller.signal }));
      assert.deepEqual(await f.waitFor(2), ['one\n', 'two\n']);

      // The kubelet renames; conmon writes to the old inode until it reopens the path.
      const writer = await open(path, 'a');
      await rename(path, `${path}.20261122-000000`);
      await writer.write(out(3, 'three, into the rotated file'));
      await new Promise((resolve) => setTimeout(resolve, 80));
      await writer.write(out(4, 'four, just before the reopen'));
      await writer.close();
      await writeFile(path, out(5, 'five, in the new file'));
      await appendFile(path, out(6, 'six'));

      const expected = [
        'one\n',
        'two\n',
        'three, into the rotated file\n',
        'four, just before the reopen\n',
        'five, in the new file\n',
        'six\n',
      ];
      assert.deepEqual(await f.waitFor(6), expected);
      await appendFile(path, out(7, 'seven'));
      assert.deepEqual(await f.waitFor(7), [...expected, 'seven\n']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(f.outputs.length, 7, 'no line repeated');
      assert.equal(f.reader.stats.rotations, 1);
      controller.abort();
      await f.done;
    });

    it('reads the files rotated while it was not looking, plain or gzipped, in order (issue #7)', async () => {
      const path = await logFile(out(1, 'one') + out(2, 'two'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, signal: controller.signal }));
      assert.deepEqual(await f.waitFor(2), ['one\n', 'two\n']);

      // Three rotations between two looks of the follower, synchronously so it cannot look in between: each
      // renames the live file and compresses the one rotated before, as the kubelet and Berth's rotator do.
      const rotated = (k: number) => `${path}.20261122-00000${k}`;
      renameSync(path, rotated(1));
      writeFileSync(path, out(3, 'three') + out(4, 'four'));
      writeFileSync(`${rotated(1)}.gz`, gzipSync(readFileSync(rotated(1))));
      unlinkSync(rotated(1));
      renameSync(path, rotated(2));
      writeFileSync(path, out(5, 'five'));
      writeFileSync(`${rotated(2)}.gz`, gzipSync(readFileSync(rotated(2))));
      unlinkSync(rotated(2));
      renameSync(path, rotated(3));
      writeFileSync(path, out(6, 'six, live') + out(7, 'seven, live'));

      try {
        const expected = ['one\n', 'two\n', 'three\n', 'four\n', 'five\n', 'six, live\n', 'seven, live\n'];
        assert.deepEqual(await f.waitFor(7), expected);
        await appendFile(path, out(8, 'eight'));
        assert.deepEqual(await f.waitFor(8), [...expected, 'eight\n']);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(f.outputs.length, 8, 'no line repeated');
      } finally {
        controller.abort();
        await f.done;
      }
    });

    it('rereads a file truncated in place from its start', async () => {
      const path = await logFile(out(1, 'before truncation ........................'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { ...fast, signal: controller.signal }));
      await f.waitFor(1);
      await truncate(path, 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await appendFile(path, out(2, 'after'));
      assert.deepEqual(await f.waitFor(2), ['before truncation ........................\n', 'after\n']);
      assert.equal(f.reader.stats.truncations, 1);
      controller.abort();
      await f.done;
    });

    it('ends promptly when the signal aborts', async () => {
      const path = await logFile(out(1, 'a'));
      const controller = new AbortController();
      const f = new Follower(readCriLog(path, { follow: true, pollMs: 10_000, signal: controller.signal }));
      await f.waitFor(1);
      const started = performance.now();
      controller.abort();
      await f.done;
      assert.ok(performance.now() - started < 200, 'follow ended within 200 ms of the abort');
    });

    it('ends when shouldStop says the container exited, after reading the rest', async () => {
      const path = await logFile(out(1, 'a'));
      const state = { hasExited: false, checks: 0 };
      const f = new Follower(
        readCriLog(path, {
          ...fast,
          shouldStop: async () => {
            state.checks += 1;
            return state.hasExited;
          },
        }),
      );
      await f.waitFor(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(f.isDone, false);
      await appendFile(path, out(2, 'last words') + rec(3, 'stderr', 'P', 'cut off'));
      state.hasExited = true;
      await f.done;
      assert.deepEqual(texts(f.outputs), ['a\n', 'last words\n', 'cut off']);
      assert.ok(state.checks >= 2);
    });

    it('stops following at --limit-bytes', async () => {
      const path = await logFile(out(1, 'abc'));
      const f = new Follower(readCriLog(path, { ...fast, limitBytes: 6 }));
      await f.waitFor(1);
      await appendFile(path, out(2, 'defgh'));
      await f.done;
      assert.deepEqual(texts(f.outputs), ['abc\n', 'de']);
    });
  });
});

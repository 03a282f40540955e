// LogRotator on real files with a fake container service: the "conmon" here is a writer that appends to an
// open descriptor and, on reopen, closes it before renaming a new file into place, as conmon does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { BerthError } from '../../../src/base/errors.js';
import { LogRotator } from '../../../src/runtime/index.js';
import type { ContainerLogFile, LogRotationMode } from '../../../src/runtime/index.js';

const silent = pino({ level: 'silent' });

class FakeConmon {
  fh: FileHandle | undefined;
  reopens = 0;
  failReopen = false;
  constructor(readonly path: string) {}
  async openLog(): Promise<void> {
    this.fh = await open(this.path, 'a');
  }
  async write(text: string): Promise<void> {
    await this.fh!.write(text);
  }
  async reopen(): Promise<void> {
    if (this.failReopen) throw new BerthError('FAILED_PRECONDITION', 'container is not running');
    this.reopens += 1;
    await this.fh!.close();
    await writeFile(`${this.path}.tmp`, '');
    this.fh = await open(`${this.path}.tmp`, 'a');
    await rename(`${this.path}.tmp`, this.path);
  }
}

async function fixture(
  t: { after(fn: () => Promise<void>): void },
  opts: { mode?: LogRotationMode; maxFiles?: number } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-logrot-'));
  const path = join(dir, 'app.log');
  const conmon = new FakeConmon(path);
  await conmon.openLog();
  t.after(async () => {
    await conmon.fh?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const clock = { now: new Date(2026, 10, 22, 18, 0, 0) };
  const logs: ContainerLogFile[] = [{ id: 'c1', namespace: 'default', logPath: path, podLabels: {} }];
  const rotator = new LogRotator({
    mode: opts.mode ?? 'auto',
    maxSizeBytes: 100,
    maxFiles: opts.maxFiles ?? 3,
    intervalMs: 1000,
    containers: { runningLogs: () => logs, reopenLog: () => conmon.reopen() },
    log: silent,
    now: () => clock.now,
  });
  const tick = async (): Promise<string | undefined> => {
    const outcome = (await rotator.checkAll()).get('c1');
    clock.now = new Date(clock.now.getTime() + 1000);
    return outcome;
  };
  /** Every line of every file, oldest file first, gzipped ones decompressed. */
  const allLines = async (): Promise<string[]> => {
    const names = (await readdir(dir)).filter((n) => n.startsWith('app.log.')).sort();
    const texts = await Promise.all(
      [...names, 'app.log'].map(async (n) => {
        const bytes = await readFile(join(dir, n));
        return (n.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      }),
    );
    return texts
      .join('')
      .split('\n')
      .filter((l) => l !== '');
  };
  return { dir, path, conmon, rotator, tick, allLines, logs };
}

const numbered = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

describe('LogRotator', () => {
  it('leaves a small log alone and rotates one at the max size', async (t) => {
    const f = await fixture(t);
    await f.conmon.write('short\n');
    assert.equal(await f.tick(), 'small');
    assert.deepEqual(await readdir(f.dir), ['app.log']);
    await f.conmon.write(numbered(1, 20));
    assert.equal(await f.tick(), 'rotated');
    assert.deepEqual((await readdir(f.dir)).sort(), ['app.log', 'app.log.20261122-180001']);
    assert.equal(f.conmon.reopens, 1);
    assert.equal((await readFile(f.path, 'utf8')).length, 0, 'conmon writes into a new file');
  });

  it('keeps every line across rotations, compresses older files and keeps max_files', async (t) => {
    const f = await fixture(t, { maxFiles: 4 });
    let n = 0;
    for (let round = 0; round < 6; round += 1) {
      await f.conmon.write(numbered(n + 1, n + 15));
      n += 15;
      assert.equal(await f.tick(), 'rotated');
      // Lines written between the rename and the reopen land in the renamed file: still in order.
    }
    await f.conmon.write(numbered(n + 1, n + 3));
    n += 3;
    const names = (await readdir(f.dir)).sort();
    assert.deepEqual(names, [
      'app.log',
      'app.log.20261122-180003.gz',
      'app.log.20261122-180004.gz',
      'app.log.20261122-180005',
    ]);
    const lines = await f.allLines();
    // The three newest rotations (15 lines each) and the live file: nothing missing in between.
    assert.deepEqual(
      lines,
      numbered(n - 47, n)
        .trimEnd()
        .split('\n'),
    );
  });

  it('keeps every line when nothing is deleted', async (t) => {
    const f = await fixture(t, { maxFiles: 10 });
    for (let i = 1; i <= 200; i += 1) {
      await f.conmon.write(`line ${i}\n`);
      if (i % 25 === 0) await f.tick();
    }
    assert.deepEqual(await f.allLines(), numbered(1, 200).trimEnd().split('\n'));
    assert.ok((await readdir(f.dir)).filter((n) => n.endsWith('.gz')).length >= 5, 'older files are compressed');
  });

  it('skips a rotation within the same second, and rotates at the next check', async (t) => {
    const f = await fixture(t);
    await f.conmon.write(numbered(1, 20));
    assert.equal((await f.rotator.checkAll()).get('c1'), 'rotated');
    await f.conmon.write(numbered(21, 40));
    assert.equal((await f.rotator.checkAll()).get('c1'), 'skipped', 'same clock second');
    assert.equal(await f.tick(), 'skipped');
    assert.equal(await f.tick(), 'rotated');
    assert.deepEqual(await f.allLines(), numbered(1, 40).trimEnd().split('\n'));
  });

  it('renames the file back when the reopen fails', async (t) => {
    const f = await fixture(t);
    await f.conmon.write(numbered(1, 20));
    f.conmon.failReopen = true;
    assert.equal(await f.tick(), 'failed');
    assert.deepEqual(await readdir(f.dir), ['app.log']);
    assert.deepEqual(await f.allLines(), numbered(1, 20).trimEnd().split('\n'));
  });

  it('reopens a log that went missing', async (t) => {
    const f = await fixture(t);
    await rm(f.path);
    assert.equal(await f.tick(), 'reopened');
    await f.conmon.write('after\n');
    assert.equal(await readFile(f.path, 'utf8'), 'after\n');
  });

  it('does not reopen a log whose directory is gone (conmon would exit)', async (t) => {
    const f = await fixture(t);
    await rm(f.dir, { recursive: true });
    assert.equal(await f.tick(), 'skipped');
    assert.equal(f.conmon.reopens, 0);
  });

  it('leaves kubelet pods to the kubelet in auto mode, and does nothing in never mode', async (t) => {
    const f = await fixture(t);
    await f.conmon.write(numbered(1, 20));
    f.logs[0] = { ...f.logs[0]!, podLabels: { 'io.kubernetes.pod.uid': 'u1' } };
    assert.equal(await f.tick(), undefined, 'not checked');
    const never = await fixture(t, { mode: 'never' });
    await appendFile(never.path, numbered(1, 20));
    assert.equal(await never.tick(), undefined);
    never.rotator.start(); // no timer in never mode
    await never.rotator.close();
    assert.deepEqual(await readdir(never.dir), ['app.log']);
  });

  it('compressed files keep the log file mode', async (t) => {
    const f = await fixture(t);
    for (let i = 0; i < 2; i += 1) {
      await f.conmon.write(numbered(1, 20));
      await f.tick();
    }
    const gz = (await readdir(f.dir)).find((n) => n.endsWith('.gz'))!;
    assert.equal((await stat(join(f.dir, gz))).mode & 0o777, (await stat(f.path)).mode & 0o777);
  });
});

// CgroupStats against a real cgroup on this machine: a busy child moved into a fresh test cgroup shows rising
// CPU time, a CPU rate near one core, its memory and its tasks; once the cgroup is removed, read() answers
// undefined. Works on v1, hybrid (this machine) and pure v2; the cgroup dirs are removed even on failure.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupStats, CpuRateTracker } from '../../../src/stats/index.js';
import type { CgroupLayout, CgroupSample } from '../../../src/stats/index.js';

const MIB = 1024 * 1024;
const CHILD_ALLOC_MIB = 64;

/** Spins after allocating (and touching) CHILD_ALLOC_MIB once told to on stdin, so the pages are charged here. */
const CHILD = `
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  const keep = Buffer.alloc(${CHILD_ALLOC_MIB} * 1024 * 1024, 1);
  process.stdout.write('busy ' + keep.length + '\\n');
  for (;;) { keep[0] = (keep[0] + 1) & 0xff; }
});`;

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'creating cgroups needs root';
  const layout = await new CgroupStats().layout().catch(() => undefined);
  if (layout === undefined) return 'no cgroup filesystem is mounted';
  const dirs = cgroupDirsOf(layout, 'x').map((d) => join(d, '..'));
  for (const d of dirs) {
    if (
      !(await access(d).then(
        () => true,
        () => false,
      ))
    )
      return `${d} is not accessible`;
  }
  return undefined;
}

/** The directories a cgroupfs path "/name" has, as runc would create them for the controllers stats read. */
function cgroupDirsOf(layout: CgroupLayout, name: string): string[] {
  if (layout.mode === 'v2') return [join(layout.unified ?? '/sys/fs/cgroup', name)];
  const mounts = new Set(['cpuacct', 'memory', 'pids'].map((c) => layout.v1.get(c)).filter((m) => m !== undefined));
  return [...mounts].map((m) => join(m, name));
}

function waitForLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) {
        child.stdout?.off('data', onData);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${prefix}"`)));
  });
}

async function removeCgroup(dir: string): Promise<void> {
  // The kernel frees a cgroup a moment after its last task is reaped; EBUSY until then.
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      await sleep(100);
    }
  }
}

describe('CgroupStats on a real cgroup', { skip: await skipReason(), timeout: 60_000 }, () => {
  it('reads rising CPU, memory and tasks of a busy child, and undefined once the cgroup is gone', async () => {
    const stats = new CgroupStats();
    const layout = await stats.layout();
    const name = `berth-stats-test-${randomBytes(4).toString('hex')}`;
    const dirs = cgroupDirsOf(layout, name);
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      for (const dir of dirs) await mkdir(dir);
      await waitForLine(child, 'ready');
      for (const dir of dirs) await writeFile(join(dir, 'cgroup.procs'), `${child.pid}\n`);
      for (const dir of dirs) {
        const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8');
        assert.ok(procs.split('\n').includes(String(child.pid)), `${dir} holds the child`);
      }
      child.stdin?.write('go\n');
      await waitForLine(child, 'busy');

      const rates = new CpuRateTracker({ minWindowNs: 100_000_000n });
      const first = await stats.read(`/${name}`, 'cgroupfs');
      assert.ok(first !== undefined, 'the cgroup exists');
      assert.equal(rates.rate(name, first), 0n, 'no rate from one sample');
      await sleep(1_000);
      const second = (await stats.read(`/${name}`, 'cgroupfs')) as CgroupSample;
      assert.ok(second.timestampNs > first.timestampNs);
      assert.ok(second.cpuUsageNs > first.cpuUsageNs, `cpu ${first.cpuUsageNs} -> ${second.cpuUsageNs}`);
      const nanoCores = rates.rate(name, second);
      // A spinning thread is about one core; leave room for a busy CI machine.
      assert.ok(nanoCores > 200_000_000n && nanoCores < 2_000_000_000n, `rate ${nanoCores} nanocores`);

      const halfAlloc = (CHILD_ALLOC_MIB / 2) * MIB;
      assert.ok(second.memoryUsageBytes >= halfAlloc, `usage ${second.memoryUsageBytes}`);
      assert.ok(second.memoryWorkingSetBytes >= halfAlloc, `working set ${second.memoryWorkingSetBytes}`);
      assert.ok(second.memoryWorkingSetBytes <= second.memoryUsageBytes);
      assert.ok(second.memoryRssBytes >= halfAlloc, `rss ${second.memoryRssBytes}`);
      assert.ok(second.pageFaults > 0, 'touching the buffer faulted pages in');
      assert.equal(second.memoryLimitBytes, undefined, 'the test cgroup has no limit');
      if (layout.mode === 'v2' || layout.v1.has('pids')) {
        assert.ok((second.pidsCurrent ?? 0) >= 1, `pids ${second.pidsCurrent}`);
      }

      // A limit shows up as limit and available (v1 limit_in_bytes, v2 memory.max).
      const memDir = layout.mode === 'v2' ? dirs[0] : join(layout.v1.get('memory') ?? '', name);
      const limitFile = layout.mode === 'v2' ? 'memory.max' : 'memory.limit_in_bytes';
      await writeFile(join(memDir ?? '', limitFile), `${512 * MIB}\n`);
      const limited = (await stats.read(`/${name}`, 'cgroupfs')) as CgroupSample;
      assert.equal(limited.memoryLimitBytes, 512 * MIB);
      assert.equal(limited.memoryAvailableBytes, 512 * MIB - limited.memoryWorkingSetBytes);
    } finally {
      child.kill('SIGKILL');
      await exited;
      for (const dir of dirs) await removeCgroup(dir);
    }
    assert.equal(await stats.read(`/${name}`, 'cgroupfs'), undefined, 'gone after rmdir');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupStats, CpuRateTracker, cgroupRelativePath } from '../../../src/stats/index.js';

async function withTree(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-cgroup-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('cgroup stats', () => {
  it('maps OCI cgroupsPaths to hierarchy paths for both drivers', () => {
    assert.equal(cgroupRelativePath('/berth/abc', 'cgroupfs'), 'berth/abc');
    assert.equal(
      cgroupRelativePath('kubepods-burstable-pod1.slice:berth:abc', 'systemd'),
      'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/berth-abc.scope',
    );
  });

  it('reads v1 cpuacct and memory, working set without inactive file pages', () =>
    withTree(async (root) => {
      await mkdir(join(root, 'cpuacct', 'berth', 'c1'), { recursive: true });
      await mkdir(join(root, 'memory', 'berth', 'c1'), { recursive: true });
      await writeFile(join(root, 'cpuacct', 'berth', 'c1', 'cpuacct.usage'), '123456789\n');
      await writeFile(join(root, 'memory', 'berth', 'c1', 'memory.usage_in_bytes'), '10000\n');
      await writeFile(join(root, 'memory', 'berth', 'c1', 'memory.limit_in_bytes'), '9223372036854771712\n');
      await writeFile(
        join(root, 'memory', 'berth', 'c1', 'memory.stat'),
        'total_inactive_file 3000\ntotal_rss 5000\ntotal_pgfault 7\ntotal_pgmajfault 1\n',
      );
      const s = await new CgroupStats(root).read('/berth/c1', 'cgroupfs', 42n);
      assert.deepEqual(s, {
        timestampNs: 42n,
        cpuUsageNs: 123456789n,
        memoryUsageBytes: 10000,
        memoryWorkingSetBytes: 7000,
        memoryRssBytes: 5000,
        memoryLimitBytes: undefined,
        pageFaults: 7,
        majorPageFaults: 1,
      });
      assert.equal(await new CgroupStats(root).read('/berth/gone', 'cgroupfs', 1n), undefined);
    }));

  it('reads v2 cpu.stat and memory files', () =>
    withTree(async (root) => {
      await writeFile(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
      const dir = join(root, 'berth', 'c2');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'cpu.stat'), 'usage_usec 2500\nuser_usec 2000\n');
      await writeFile(join(dir, 'memory.current'), '8192\n');
      await writeFile(join(dir, 'memory.max'), '65536\n');
      await writeFile(join(dir, 'memory.stat'), 'anon 4096\ninactive_file 1024\npgfault 3\npgmajfault 0\n');
      const s = await new CgroupStats(root).read('/berth/c2', 'cgroupfs', 5n);
      assert.equal(s?.cpuUsageNs, 2_500_000n);
      assert.equal(s?.memoryWorkingSetBytes, 7168);
      assert.equal(s?.memoryLimitBytes, 65536);
      assert.equal(s?.memoryRssBytes, 4096);
    }));

  it('computes the CPU rate between two samples', () => {
    const t = new CpuRateTracker();
    assert.equal(t.rate('a', { cpuUsageNs: 0n, timestampNs: 1_000_000_000n }), 0n);
    assert.equal(t.rate('a', { cpuUsageNs: 500_000_000n, timestampNs: 2_000_000_000n }), 500_000_000n);
    t.retain(new Set());
    assert.equal(t.rate('a', { cpuUsageNs: 900_000_000n, timestampNs: 3_000_000_000n }), 0n, 'forgotten');
  });
});

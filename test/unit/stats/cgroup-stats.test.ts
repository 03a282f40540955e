import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupStats } from '../../../src/stats/index.js';

/** A fake cgroup tree in a temp dir, with a mountinfo file that describes it. */
async function withTree(fn: (root: string, stats: CgroupStats) => Promise<void>, mounts: string[]): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-cgroup-'));
  try {
    const lines = mounts.map((m, i) => {
      const [dir = '', fsType = '', opts = ''] = m.split(' ');
      return `${30 + i} 23 0:${30 + i} / ${join(root, dir)} rw,relatime shared:${i} - ${fsType} ${fsType} ${opts}`;
    });
    await writeFile(join(root, 'mountinfo'), `${lines.join('\n')}\n`);
    await fn(root, new CgroupStats({ mountinfoPath: join(root, 'mountinfo'), nowNs: () => 77n }));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function files(dir: string, content: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(content)) await writeFile(join(dir, name), text);
}

const V1_HYBRID = [
  'cpu cgroup rw,cpu',
  'cpuacct cgroup rw,cpuacct',
  'memory cgroup rw,memory',
  'pids cgroup rw,pids',
  'unified cgroup2 rw',
];
const V1_COMOUNTED = ['cpu,cpuacct cgroup rw,cpu,cpuacct', 'memory cgroup rw,memory'];
const V2 = ['. cgroup2 rw,nsdelegate'];

const V1_MEMORY_STAT = [
  'cache 4000',
  'rss 1',
  'inactive_file 1',
  'total_cache 4000',
  'total_rss 5000',
  'total_pgfault 70',
  'total_pgmajfault 3',
  'total_inactive_file 3000',
  'hierarchical_memory_limit 9223372036854771712',
].join('\n');

describe('CgroupStats', () => {
  it('detects the mode from mountinfo', async () => {
    await withTree(async (_root, stats) => assert.equal(await stats.detect(), 'hybrid'), V1_HYBRID);
    await withTree(async (_root, stats) => assert.equal(await stats.detect(), 'v1'), V1_COMOUNTED);
    await withTree(async (_root, stats) => assert.equal(await stats.detect(), 'v2'), V2);
  });

  it('reads v1 (hybrid, cgroupfs path): totals, working set without inactive file, no limit, pids', () =>
    withTree(async (root, stats) => {
      await files(join(root, 'cpuacct', 'berth', 'c1'), { 'cpuacct.usage': '123456789012345678\n' });
      await files(join(root, 'memory', 'berth', 'c1'), {
        'memory.usage_in_bytes': '10000\n',
        'memory.limit_in_bytes': '9223372036854771712\n',
        'memory.stat': V1_MEMORY_STAT,
      });
      await files(join(root, 'pids', 'berth', 'c1'), { 'pids.current': '4\n' });
      assert.deepEqual(await stats.read('/berth/c1', 'cgroupfs'), {
        timestampNs: 77n,
        cpuUsageNs: 123456789012345678n,
        memoryUsageBytes: 10000,
        memoryWorkingSetBytes: 7000,
        memoryRssBytes: 5000,
        memoryLimitBytes: undefined,
        memoryAvailableBytes: undefined,
        pageFaults: 70,
        majorPageFaults: 3,
        pidsCurrent: 4,
      });
    }, V1_HYBRID));

  it('reads v1 co-mounted cpu,cpuacct under a systemd scope, with a limit', () =>
    withTree(async (root, stats) => {
      const rel = join('kubepods.slice', 'kubepods-pod1.slice', 'berth-c1.scope');
      await files(join(root, 'cpu,cpuacct', rel), { 'cpuacct.usage': '42\n' });
      await files(join(root, 'memory', rel), {
        'memory.usage_in_bytes': '10000\n',
        'memory.limit_in_bytes': '8192\n',
        'memory.stat': V1_MEMORY_STAT,
      });
      const s = await stats.read('kubepods-pod1.slice:berth:c1', 'systemd', 5n);
      assert.equal(s?.timestampNs, 5n, 'the caller can fix the time');
      assert.equal(s?.cpuUsageNs, 42n);
      assert.equal(s?.memoryLimitBytes, 8192);
      assert.equal(s?.memoryAvailableBytes, 8192 - 7000);
      assert.equal(s?.pidsCurrent, undefined, 'no pids controller mounted');
      const pod = await stats.read('kubepods-pod1.slice', 'systemd');
      assert.equal(pod, undefined, 'the pod slice has no files in this tree');
    }, V1_COMOUNTED));

  it('clamps working set and available at 0', () =>
    withTree(async (root, stats) => {
      await files(join(root, 'memory', 'c'), {
        'memory.usage_in_bytes': '1000\n',
        'memory.limit_in_bytes': '500\n',
        'memory.stat': 'total_inactive_file 3000\n',
      });
      const s = await stats.read('/c', 'cgroupfs');
      assert.equal(s?.memoryWorkingSetBytes, 0);
      assert.equal(s?.memoryAvailableBytes, 500);
      assert.equal(s?.cpuUsageNs, 0n, 'cpuacct missing: zero, not gone');
    }, V1_COMOUNTED));

  it('answers undefined for a v1 cgroup that is gone', () =>
    withTree(async (root, stats) => {
      await files(join(root, 'memory', 'berth', 'c1'), { 'memory.usage_in_bytes': '1\n' });
      assert.equal(await stats.read('/berth/gone', 'cgroupfs'), undefined);
      await rm(join(root, 'memory', 'berth', 'c1'), { recursive: true });
      assert.equal(await stats.read('/berth/c1', 'cgroupfs'), undefined);
    }, V1_HYBRID));

  it('reads pure v2 files under the unified mount (cgroupfs and systemd paths)', () =>
    withTree(async (root, stats) => {
      const v2Files = {
        'cpu.stat': 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n',
        'memory.current': '8192\n',
        'memory.max': '65536\n',
        'memory.stat': 'anon 4096\nfile 4096\ninactive_file 1024\npgfault 30\npgmajfault 2\n',
        'pids.current': '2\n',
      };
      await files(join(root, 'berth', 'c2'), v2Files);
      await files(join(root, 'system.slice', 'berth-c3.scope'), { ...v2Files, 'memory.max': 'max\n' });
      assert.deepEqual(await stats.read('/berth/c2', 'cgroupfs'), {
        timestampNs: 77n,
        cpuUsageNs: 2_500_000n,
        memoryUsageBytes: 8192,
        memoryWorkingSetBytes: 7168,
        memoryRssBytes: 4096,
        memoryLimitBytes: 65536,
        memoryAvailableBytes: 65536 - 7168,
        pageFaults: 30,
        majorPageFaults: 2,
        pidsCurrent: 2,
      });
      const scope = await stats.read(':berth:c3', 'systemd');
      assert.equal(scope?.cpuUsageNs, 2_500_000n);
      assert.equal(scope?.memoryLimitBytes, undefined, '"max" is no limit');
    }, V2));

  it('reads a v2 cgroup without the memory controller as zeros, and a gone one as undefined', () =>
    withTree(async (root, stats) => {
      const dir = join(root, 'berth', 'c4');
      await files(dir, { 'cpu.stat': 'usage_usec 1\n' });
      const s = await stats.read('/berth/c4', 'cgroupfs');
      assert.equal(s?.cpuUsageNs, 1000n);
      assert.equal(s?.memoryUsageBytes, 0);
      assert.equal(s?.pidsCurrent, undefined);
      await rm(join(dir, 'cpu.stat'));
      await rmdir(dir);
      assert.equal(await stats.read('/berth/c4', 'cgroupfs'), undefined);
    }, V2));

  it('rejects a malformed systemd path', () =>
    withTree(async (_root, stats) => {
      await assert.rejects(
        stats.read('a:b', 'systemd'),
        (err: unknown) => (err as { code?: string }).code === 'INVALID_ARGUMENT',
      );
    }, V2));
});

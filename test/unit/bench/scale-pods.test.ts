import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchCgroupBase, removeBenchCgroups } from '../../../bench/cgroups.js';
import {
  CONTAINER_NAME_LABEL,
  POD_UID_LABEL,
  expectCount,
  kubeletContainerConfig,
  kubeletPodConfig,
  latencyMetrics,
  probe,
  sampleRounds,
} from '../../../bench/scale-pods.js';

const daemon = { dir: '/tmp/berth-bench-berth-Ab12Cd' };

test('kubeletPodConfig labels the pod as the kubelet does and parents its cgroup below the daemon own one', () => {
  const pod = kubeletPodConfig(daemon, 'mem', 7);
  assert.equal(pod.metadata?.name, 'mem-7');
  assert.deepEqual(pod.labels, {
    'io.kubernetes.pod.name': 'mem-7',
    'io.kubernetes.pod.namespace': 'bench',
    'io.kubernetes.pod.uid': 'mem-7-uid',
  });
  assert.equal(pod.linux?.cgroupParent, '/berth-bench-berth-Ab12Cd/besteffort/podmem-7-uid');
  assert.equal(benchCgroupBase(daemon), '/berth-bench-berth-Ab12Cd');
});

test('kubeletContainerConfig carries the pod labels, its own name label and a log path named after it', () => {
  const pod = kubeletPodConfig(daemon, 'list', 1);
  const c = kubeletContainerConfig(pod, 'job-3', 'img:1', ['/bin/true']);
  assert.equal(c.metadata?.name, 'job-3');
  assert.equal(c.labels[POD_UID_LABEL], 'list-1-uid');
  assert.equal(c.labels[CONTAINER_NAME_LABEL], 'job-3');
  assert.deepEqual(c.command, ['/bin/true']);
  assert.equal(c.logPath, 'job-3.log');
});

test('removeBenchCgroups refuses anything but a one-level cgroup name', async () => {
  await assert.rejects(removeBenchCgroups('/'), /not a benchmark cgroup base/);
  await assert.rejects(removeBenchCgroups('/a/../..'), /not a benchmark cgroup base/);
  await assert.rejects(removeBenchCgroups('relative'), /not a benchmark cgroup base/);
});

test('sampleRounds interleaves the probes, checks each answer once after the warm-up, times only the rounds', async () => {
  const calls: string[] = [];
  const checked: string[] = [];
  const samples = await sampleRounds(
    [
      probe({ name: 'a', call: async () => (calls.push('a'), 1), check: (n) => void checked.push(`a${n}`) }),
      probe({ name: 'b', call: async () => (calls.push('b'), 2), check: (n) => void checked.push(`b${n}`) }),
    ],
    3,
    1,
  );
  assert.deepEqual(calls, ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
  assert.deepEqual(checked, ['a1', 'b2']);
  assert.equal(samples.get('a')?.length, 3);
  assert.equal(samples.get('b')?.length, 3);
});

test('latencyMetrics gives p50 and p99 rows per probe; expectCount throws on a wrong count', () => {
  const rows = latencyMetrics(new Map([['list', [1, 2, 3, 4, 5]]]));
  assert.deepEqual(
    rows.map((r) => [r.name, r.unit, r.value]),
    [
      ['list p50', 'ms', 3],
      ['list p99', 'ms', 4.96],
    ],
  );
  expectCount('x', 3, 3);
  assert.throws(() => expectCount('ListContainers', 2, 3), /ListContainers: got 2, expected 3/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchNetwork } from '../../../bench/cni-network.js';
import { benchPodConfig, sleepContainerConfig } from '../../../bench/pod-env.js';

test('benchPodConfig names each pod apart and keeps its logs in the daemon dir', () => {
  const a = benchPodConfig({ dir: '/tmp/d' }, 'start', 0);
  const b = benchPodConfig({ dir: '/tmp/d' }, 'start', 1);
  assert.equal(a.metadata?.name, 'start-0');
  assert.equal(a.metadata?.namespace, 'bench');
  assert.notEqual(a.metadata?.uid, b.metadata?.uid);
  assert.equal(a.logDirectory, '/tmp/d/logs/start-0');
  assert.equal(a.hostname, 'start-0');
});

test('sleepContainerConfig runs sleep from the given image with a relative log path', () => {
  const c = sleepContainerConfig('127.0.0.1:5000/berth-test/busybox:latest');
  assert.equal(c.image?.image, '127.0.0.1:5000/berth-test/busybox:latest');
  assert.deepEqual(c.command, ['/bin/sleep', '3600']);
  assert.equal(c.logPath, 'sleep.log');
});

test('benchNetwork: a bridge name that fits IFNAMSIZ, a /24, and the same name in conflist and leases', () => {
  const net = benchNetwork();
  assert.ok(net.bridge.length <= 15, net.bridge);
  const conflist = net.conflist as {
    name: string;
    plugins: { type: string; bridge?: string; ipam?: { ranges: { subnet: string }[][] } }[];
  };
  assert.equal(conflist.name, net.name);
  const bridge = conflist.plugins.find((p) => p.type === 'bridge');
  assert.equal(bridge?.bridge, net.bridge);
  assert.match(bridge?.ipam?.ranges[0]?.[0]?.subnet ?? '', /^10\.251\.\d{1,3}\.0\/24$/);
});

// The cgroup probe of `berth plugins`: the hierarchy from a mountinfo file, and the systemd driver's need for a
// running systemd.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCgroups } from '../../../src/stats/index.js';

const V2 = '30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
const V1 = '32 31 0:28 / /sys/fs/cgroup/memory rw shared:5 - cgroup cgroup rw,memory\n';

describe('probeCgroups', () => {
  it('reports the hierarchy and the driver; systemd needs a running systemd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-cg-'));
    try {
      await writeFile(join(dir, 'v2'), V2);
      await writeFile(join(dir, 'v1'), V1);
      await writeFile(join(dir, 'none'), '');
      const v2 = await probeCgroups('cgroupfs', { mountinfoPath: join(dir, 'v2') });
      assert.deepEqual(v2, {
        isReady: true,
        reason: 'cgroup v2, driver cgroupfs',
        details: { driver: 'cgroupfs', version: 'v2', unified: '/sys/fs/cgroup' },
      });
      const v1 = await probeCgroups('cgroupfs', { mountinfoPath: join(dir, 'v1') });
      assert.equal(v1.details['v1Controllers'], 'memory');
      const noSystemd = await probeCgroups('systemd', {
        mountinfoPath: join(dir, 'v2'),
        systemdMarker: join(dir, 'systemd'),
      });
      assert.equal(noSystemd.isReady, false);
      assert.match(noSystemd.reason, /systemd is not running .*cgroup_driver = "cgroupfs"/);
      await mkdir(join(dir, 'systemd'));
      const booted = await probeCgroups('systemd', {
        mountinfoPath: join(dir, 'v2'),
        systemdMarker: join(dir, 'systemd'),
      });
      assert.equal(booted.isReady, true);
      const none = await probeCgroups('cgroupfs', { mountinfoPath: join(dir, 'none') });
      assert.equal(none.isReady, false);
      assert.match(none.reason, /no cgroup filesystem is mounted/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCgroupLayout } from '../../../src/stats/index.js';

const line = (id: number, mountPoint: string, fsType: string, superOpts: string): string =>
  `${id} 31 0:${id} / ${mountPoint} rw,nosuid,nodev,noexec,relatime shared:${id} - ${fsType} ${fsType} ${superOpts}`;

describe('cgroup layout from mountinfo', () => {
  it('sees hybrid mode with cpu and cpuacct mounted apart (this machine)', () => {
    const layout = parseCgroupLayout(
      [
        '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
        line(32, '/sys/fs/cgroup/cpu', 'cgroup', 'rw,cpu'),
        line(33, '/sys/fs/cgroup/cpuacct', 'cgroup', 'rw,cpuacct'),
        line(35, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
        line(40, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
        line(41, '/sys/fs/cgroup/unified', 'cgroup2', 'rw'),
      ].join('\n'),
    );
    assert.equal(layout.mode, 'hybrid');
    assert.equal(layout.v1.get('cpuacct'), '/sys/fs/cgroup/cpuacct');
    assert.equal(layout.v1.get('memory'), '/sys/fs/cgroup/memory');
    assert.equal(layout.v1.has('name=systemd'), false, 'named hierarchies are not controllers');
    assert.equal(layout.unified, '/sys/fs/cgroup/unified');
  });

  it('sees v1 with co-mounted controllers and the first mount of each', () => {
    const layout = parseCgroupLayout(
      [
        line(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
        line(33, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
        line(34, '/run/other/memory', 'cgroup', 'rw,memory'),
      ].join('\n'),
    );
    assert.equal(layout.mode, 'v1');
    assert.equal(layout.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1.get('memory'), '/sys/fs/cgroup/memory');
  });

  it('sees pure v2, with optional fields and escaped mount points', () => {
    const layout = parseCgroupLayout(
      '30 23 0:26 / /tmp/my\\040cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n',
    );
    assert.equal(layout.mode, 'v2');
    assert.equal(layout.unified, '/tmp/my cgroup');
    assert.equal(layout.v1.size, 0);
  });

  it('refuses a host without cgroups', () => {
    assert.throws(
      () => parseCgroupLayout('31 23 0:28 / /sys rw - sysfs sysfs rw\n'),
      (err: unknown) => (err as { code?: string }).code === 'FAILED_PRECONDITION',
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupRelativePath, expandSlice } from '../../../src/stats/index.js';

const invalid = (err: unknown): boolean => (err as { code?: string }).code === 'INVALID_ARGUMENT';

describe('cgroup paths from OCI cgroupsPath', () => {
  it('takes cgroupfs paths below the mount point, never above it', () => {
    assert.equal(cgroupRelativePath('/kubepods/pod1/abc', 'cgroupfs'), 'kubepods/pod1/abc');
    assert.equal(cgroupRelativePath('/berth/abc/', 'cgroupfs'), 'berth/abc');
    assert.equal(cgroupRelativePath('/../../etc/abc', 'cgroupfs'), 'etc/abc');
  });

  it('expands systemd slices as systemd.slice(5) nests them', () => {
    assert.equal(expandSlice('system.slice'), 'system.slice');
    assert.equal(
      expandSlice('kubepods-burstable-pod1.slice'),
      'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice',
    );
    assert.equal(expandSlice('-.slice'), '');
    assert.throws(() => expandSlice('a--b.slice'), invalid);
    assert.throws(() => expandSlice('a/b.slice'), invalid);
    assert.throws(() => expandSlice('kubepods'), invalid);
  });

  it('maps systemd "slice:prefix:name" to the scope runc creates', () => {
    assert.equal(
      cgroupRelativePath('kubepods-besteffort-pod1.slice:berth:abc', 'systemd'),
      'kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/berth-abc.scope',
    );
    assert.equal(cgroupRelativePath(':berth:abc', 'systemd'), 'system.slice/berth-abc.scope', 'default slice');
    assert.equal(cgroupRelativePath('-.slice:berth:abc', 'systemd'), 'berth-abc.scope', 'root slice');
    assert.equal(cgroupRelativePath('system.slice:berth:my-pod.slice', 'systemd'), 'my.slice/my-pod.slice');
  });

  it('maps a bare slice (a pod cgroup parent) to the slice itself', () => {
    assert.equal(cgroupRelativePath('kubepods-pod1.slice', 'systemd'), 'kubepods.slice/kubepods-pod1.slice');
  });

  it('refuses malformed systemd paths', () => {
    assert.throws(() => cgroupRelativePath('a.slice:b', 'systemd'), invalid);
    assert.throws(() => cgroupRelativePath('a.slice:b:', 'systemd'), invalid);
    assert.throws(() => cgroupRelativePath('a.slice:b:c/d', 'systemd'), invalid);
  });
});

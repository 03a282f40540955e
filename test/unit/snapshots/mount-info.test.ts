import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mountPointsUnder, parseMountPoints } from '../../../src/snapshots/mount-info.js';

describe('mountinfo', () => {
  it('reads field 5 and undoes the octal escapes', () => {
    const text = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '40 22 8:1 /x /var/lib/berth/snapshots/active/3/fs/a\\040b rw - ext4 /dev/sda1 rw',
      '',
    ].join('\n');
    assert.deepEqual(parseMountPoints(text), ['/', '/var/lib/berth/snapshots/active/3/fs/a b']);
  });

  it('finds mounts at or below a directory, not beside it', () => {
    const points = ['/', '/s/active/3', '/s/active/3/fs/proc', '/s/active/30/fs'];
    assert.deepEqual(mountPointsUnder(points, '/s/active/3'), ['/s/active/3', '/s/active/3/fs/proc']);
  });
});

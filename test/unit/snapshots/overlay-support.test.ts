// Whether the kernel lists overlay in /proc/filesystems, as `berth plugins` reports it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listsOverlay, probeSnapshotter } from '../../../src/snapshots/index.js';

const WITH = 'nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n';
const WITHOUT = 'nodev\tsysfs\n\text4\nnodev\toverlayish\n';

describe('overlay support', () => {
  it('reads /proc/filesystems', () => {
    assert.equal(listsOverlay(WITH), true);
    assert.equal(listsOverlay(WITHOUT), false);
    assert.equal(listsOverlay(''), false);
  });

  it('probes the configured snapshotter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-fs-'));
    try {
      await writeFile(join(dir, 'with'), WITH);
      await writeFile(join(dir, 'without'), WITHOUT);
      assert.equal((await probeSnapshotter('overlayfs', '/r', join(dir, 'with'))).isReady, true);
      const missing = await probeSnapshotter('overlayfs', '/r', join(dir, 'without'));
      assert.equal(missing.isReady, false);
      assert.match(missing.reason, /modprobe overlay.*snapshotter = "native"/);
      const native = await probeSnapshotter('native', '/r', join(dir, 'without'));
      assert.deepEqual(native, {
        isReady: true,
        reason: 'native (copies) at /r',
        details: { kind: 'native', root: '/r' },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRotatedByBerth, planRotation, rotationTimestamp } from '../../../src/runtime/index.js';

/** Local time, as the kubelet names rotated files. */
const at = (y: number, mo: number, d: number, h: number, mi: number, s: number): Date =>
  new Date(y, mo - 1, d, h, mi, s);
const NOW = at(2026, 11, 22, 18, 40, 1);

describe('rotationTimestamp', () => {
  it('is YYYYMMDD-HHMMSS in local time, zero-padded', () => {
    assert.equal(rotationTimestamp(NOW), '20261122-184001');
    assert.equal(rotationTimestamp(at(2027, 1, 2, 3, 4, 5)), '20270102-030405');
  });
});

describe('planRotation', () => {
  it('rotates a log with no history into <log>.<timestamp>', () => {
    assert.deepEqual(planRotation('app.log', ['app.log', 'other.log'], 5, NOW), {
      remove: [],
      compress: [],
      rotateTo: 'app.log.20261122-184001',
    });
  });

  it('compresses every older rotated file and leaves the one rotated now plain', () => {
    const plan = planRotation('0.log', ['0.log', '0.log.20261122-183000.gz', '0.log.20261122-183500'], 5, NOW);
    assert.deepEqual(plan.compress, ['0.log.20261122-183500']);
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.rotateTo, '0.log.20261122-184001');
  });

  it('keeps max_files counting the live file: removes the oldest first', () => {
    const dir = [
      '0.log',
      '0.log.20261122-180000.gz',
      '0.log.20261122-181000.gz',
      '0.log.20261122-182000.gz',
      '0.log.20261122-183000',
    ];
    // max_files 6: live + new rotated + the 4 older ones.
    assert.deepEqual(planRotation('0.log', dir, 6, NOW), {
      remove: [],
      compress: ['0.log.20261122-183000'],
      rotateTo: '0.log.20261122-184001',
    });
    // max_files 5: live + new rotated + 3 older, so the oldest goes.
    assert.deepEqual(planRotation('0.log', dir, 5, NOW), {
      remove: ['0.log.20261122-180000.gz'],
      compress: ['0.log.20261122-183000'],
      rotateTo: '0.log.20261122-184001',
    });
    // max_files 3: live + new rotated + 1 older.
    assert.deepEqual(planRotation('0.log', dir, 3, NOW), {
      remove: ['0.log.20261122-180000.gz', '0.log.20261122-181000.gz', '0.log.20261122-182000.gz'],
      compress: ['0.log.20261122-183000'],
      rotateTo: '0.log.20261122-184001',
    });
    // max_files 2: live + new rotated only.
    assert.deepEqual(planRotation('0.log', dir, 2, NOW).remove, [
      '0.log.20261122-180000.gz',
      '0.log.20261122-181000.gz',
      '0.log.20261122-182000.gz',
      '0.log.20261122-183000',
    ]);
    assert.deepEqual(planRotation('0.log', dir, 2, NOW).compress, []);
  });

  it('removes leftovers of an interrupted compression, and does not count them', () => {
    const dir = [
      '0.log',
      '0.log.20261122-181000.tmp', // compression interrupted: the plain file is still there
      '0.log.20261122-181000',
      '0.log.20261122-182000.gz', // compressed, but the plain file was not removed
      '0.log.20261122-182000',
      '0.log.20261122-183000',
    ];
    assert.deepEqual(planRotation('0.log', dir, 4, NOW), {
      remove: ['0.log.20261122-181000.tmp', '0.log.20261122-182000', '0.log.20261122-181000'],
      compress: ['0.log.20261122-183000'],
      rotateTo: '0.log.20261122-184001',
    });
  });

  it('ignores files it did not make, including conmon reopen temp file and other containers', () => {
    const dir = [
      'a.log',
      'a.log.tmp',
      'a.log.old',
      'a.log.1',
      'a.log.2026-11-22',
      'b.log.20261122-180000',
      'xa.log.20261122-180000',
    ];
    assert.deepEqual(planRotation('a.log', dir, 2, NOW), {
      remove: [],
      compress: [],
      rotateTo: 'a.log.20261122-184001',
    });
  });

  it('skips a second rotation within the same second instead of overwriting', () => {
    for (const existing of ['0.log.20261122-184001', '0.log.20261122-184001.gz', '0.log.20261122-184001.tmp']) {
      assert.deepEqual(planRotation('0.log', ['0.log', existing], 5, NOW), {
        remove: [],
        compress: [],
        rotateTo: undefined,
      });
    }
  });
});

describe('isRotatedByBerth', () => {
  const kubelet = { 'io.kubernetes.pod.uid': 'abc', 'io.kubernetes.pod.name': 'web' };
  it('auto rotates pods the kubelet did not create', () => {
    assert.equal(isRotatedByBerth('auto', {}), true);
    assert.equal(isRotatedByBerth('auto', { app: 'web' }), true);
    assert.equal(isRotatedByBerth('auto', kubelet), false);
  });
  it('always and never do as they say', () => {
    assert.equal(isRotatedByBerth('always', kubelet), true);
    assert.equal(isRotatedByBerth('never', {}), false);
  });
});

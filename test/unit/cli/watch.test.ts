import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseIntervalMs, watchFrame } from '../../../src/cli/watch.js';

describe('--watch frames', () => {
  const now = new Date('2026-11-22T18:40:01.500Z');

  it('redraws in place on a terminal', () => {
    assert.equal(watchFrame('TABLE\n', 1000, true, now), '\x1b[H\x1b[2JEvery 1s: 2026-11-22T18:40:01.500Z\n\nTABLE\n');
  });

  it('prints one block per tick when piped, each after a timestamp line', () => {
    assert.equal(watchFrame('TABLE\n', 500, false, now), 'Every 0.5s: 2026-11-22T18:40:01.500Z\nTABLE\n\n');
  });

  it('takes the interval in seconds, fractions allowed', () => {
    assert.equal(parseIntervalMs('1'), 1000);
    assert.equal(parseIntervalMs('0.25'), 250);
    assert.equal(parseIntervalMs('2s'), 2000);
    assert.throws(() => parseIntervalMs('0'), /--interval "0" must be a positive number of seconds/);
    assert.throws(() => parseIntervalMs('x'), /must be a positive number/);
  });
});

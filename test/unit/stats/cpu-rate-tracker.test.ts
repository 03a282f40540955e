import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CpuRateTracker } from '../../../src/stats/index.js';

const S = 1_000_000_000n;
const at = (cpuUsageNs: bigint, timestampNs: bigint) => ({ cpuUsageNs, timestampNs });

describe('CpuRateTracker', () => {
  it('answers 0 first, then core-nanoseconds per second over the window', () => {
    const t = new CpuRateTracker();
    assert.equal(t.rate('a', at(0n, 10n * S)), 0n);
    assert.equal(t.rate('a', at(S / 2n, 11n * S)), S / 2n, 'half a core');
    assert.equal(t.rate('a', at(S / 2n + 4n * S, 13n * S)), 2n * S, 'two cores');
    assert.equal(t.rate('b', at(7n * S, 13n * S)), 0n, 'ids are apart');
    assert.equal(t.rate('b', at(7n * S + S / 4n, 13n * S + S / 2n)), S / 2n, 'the default window allows 0.5 s');
    assert.equal(t.rate('b', at(8n * S, 13n * S + S / 2n + 50_000_000n)), S / 2n, 'but not 50 ms');
  });

  it('keeps the last rate when polled again within the minimum window', () => {
    const t = new CpuRateTracker({ minWindowNs: S });
    t.rate('a', at(0n, 10n * S));
    assert.equal(t.rate('a', at(S, 12n * S)), S / 2n);
    assert.equal(t.rate('a', at(S + 1_000n, 12n * S + 1_000_000n)), S / 2n, 'a 1 ms window is noise');
    // The base stayed at 12 s: this window is 2 s.
    assert.equal(t.rate('a', at(S + 2n * S, 14n * S)), S);
  });

  it('starts over when the counter goes backwards (a new cgroup)', () => {
    const t = new CpuRateTracker();
    t.rate('a', at(5n * S, 10n * S));
    assert.equal(t.rate('a', at(S, 12n * S)), 0n);
    assert.equal(t.rate('a', at(2n * S, 13n * S)), S);
  });

  it('forgets ids not sampled for a while, and ids retain() drops', () => {
    const t = new CpuRateTracker({ forgetAfterNs: 60n * S });
    t.rate('old', at(0n, 10n * S));
    t.rate('kept', at(0n, 10n * S));
    t.rate('kept', at(S, 50n * S));
    t.rate('kept', at(2n * S, 100n * S));
    assert.equal(t.size, 1, '"old" was last seen 90 s ago');
    assert.equal(t.rate('old', at(10n * S, 101n * S)), 0n, 'a forgotten id starts over');
    t.retain(new Set(['kept']));
    assert.equal(t.size, 1);
    t.forget('kept');
    assert.equal(t.size, 0);
  });
});

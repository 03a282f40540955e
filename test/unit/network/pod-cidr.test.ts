import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodCidrService, parsePodCidrs } from '../../../src/network/index.js';

class MemorySettings {
  readonly values = new Map<string, string>();
  get(key: string): string | undefined {
    return this.values.get(key);
  }
  set(key: string, value: string): void {
    this.values.set(key, value);
  }
}

describe('pod CIDR', () => {
  it('parses single and dual-stack CIDRs', () => {
    assert.deepEqual(parsePodCidrs('10.244.0.0/24'), ['10.244.0.0/24']);
    assert.deepEqual(parsePodCidrs(' 10.244.0.0/24 , fd00::/64 '), ['10.244.0.0/24', 'fd00::/64']);
    assert.deepEqual(parsePodCidrs(''), []);
  });

  for (const bad of [
    '10.0.0.0',
    '10.0.0.0/33',
    'fd00::/129',
    'nonsense/8',
    '10.0.0.0/8/8',
    '10.0.0.0/-1',
    '10.0.0.0/',
  ]) {
    it(`rejects ${JSON.stringify(bad)} as INVALID_ARGUMENT`, () => {
      assert.throws(() => parsePodCidrs(bad), { code: 'INVALID_ARGUMENT' });
    });
  }

  it('keeps the last non-empty value', () => {
    const svc = new PodCidrService(new MemorySettings());
    assert.deepEqual(svc.get(), []);
    svc.update('10.1.0.0/16');
    svc.update('');
    assert.deepEqual(svc.get(), ['10.1.0.0/16']);
    assert.throws(() => svc.update('bad'));
    assert.deepEqual(svc.get(), ['10.1.0.0/16'], 'a bad value changes nothing');
  });
});

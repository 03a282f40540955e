import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sumCgroupSamples } from '../../../src/stats/index.js';
import type { CgroupSample } from '../../../src/stats/index.js';

const sample = (n: number, pids: number | undefined): CgroupSample => ({
  timestampNs: 1n,
  cpuUsageNs: BigInt(n),
  memoryUsageBytes: 10 * n,
  memoryWorkingSetBytes: 5 * n,
  memoryRssBytes: 3 * n,
  memoryLimitBytes: 1000,
  memoryAvailableBytes: 1000 - 5 * n,
  pageFaults: 2 * n,
  majorPageFaults: n,
  pidsCurrent: pids,
});

describe('sumCgroupSamples', () => {
  it('adds the containers up, without a limit', () => {
    assert.deepEqual(sumCgroupSamples([sample(1, 2), sample(4, 3)], 9n), {
      timestampNs: 9n,
      cpuUsageNs: 5n,
      memoryUsageBytes: 50,
      memoryWorkingSetBytes: 25,
      memoryRssBytes: 15,
      memoryLimitBytes: undefined,
      memoryAvailableBytes: undefined,
      pageFaults: 10,
      majorPageFaults: 5,
      pidsCurrent: 5,
    });
  });

  it('has unknown tasks if one container has, and nothing for no containers', () => {
    assert.equal(sumCgroupSamples([sample(1, 2), sample(1, undefined)], 1n)?.pidsCurrent, undefined);
    assert.equal(sumCgroupSamples([], 1n), undefined);
  });
});

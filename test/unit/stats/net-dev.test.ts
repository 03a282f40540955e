import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetDev } from '../../../src/stats/index.js';

const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:   52345     120    1    0    0     0          0         0    18000      90    2    0    0     0       0          0
`;

describe('/proc/net/dev', () => {
  it('reads bytes and errors per interface, without lo', () => {
    assert.deepEqual(parseNetDev(SAMPLE), [{ name: 'eth0', rxBytes: 52345, rxErrors: 1, txBytes: 18000, txErrors: 2 }]);
    assert.deepEqual(parseNetDev(''), []);
  });
});

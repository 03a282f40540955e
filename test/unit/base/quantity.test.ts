import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteQuantity, parseDurationMs } from '../../../src/base/quantity.js';

const isInvalid = (err: unknown): boolean => (err as { code?: string }).code === 'INVALID_ARGUMENT';

describe('parseByteQuantity', () => {
  it('reads binary and decimal suffixes and exponents as the kubelet does', () => {
    assert.equal(parseByteQuantity('10Mi'), 10 * 1024 * 1024);
    assert.equal(parseByteQuantity('64Ki'), 65_536);
    assert.equal(parseByteQuantity('1Gi'), 2 ** 30);
    assert.equal(parseByteQuantity('2Ti'), 2 * 2 ** 40);
    assert.equal(parseByteQuantity('1k'), 1000);
    assert.equal(parseByteQuantity('5M'), 5_000_000);
    assert.equal(parseByteQuantity('3G'), 3e9);
    assert.equal(parseByteQuantity('4096'), 4096);
    assert.equal(parseByteQuantity('5e6'), 5_000_000);
    assert.equal(parseByteQuantity('12E3'), 12_000);
    assert.equal(parseByteQuantity(' 7Mi '), 7 * 1024 * 1024);
  });

  it('computes fractions exactly and keeps whole-byte results', () => {
    assert.equal(parseByteQuantity('1.5Ki'), 1536);
    assert.equal(parseByteQuantity('1.1k'), 1100, 'no floating-point 1100.0000000000002');
    assert.equal(parseByteQuantity('0.5Mi'), 512 * 1024);
    assert.equal(parseByteQuantity('1.25e2'), 125);
  });

  it('refuses what is not a whole, non-negative byte count', () => {
    for (const bad of [
      '',
      'Mi',
      '10 Mi',
      '10mi',
      '10MB',
      '-1',
      '-10Mi',
      '0.5',
      '1.0001k',
      '100m',
      '1e-1',
      '1e400',
      '1Ei0',
    ]) {
      assert.throws(() => parseByteQuantity(bad), isInvalid, bad);
    }
    assert.throws(() => parseByteQuantity('16Ei'), /out of range/);
  });
});

describe('parseDurationMs', () => {
  it('reads Go-style durations', () => {
    assert.equal(parseDurationMs('10s'), 10_000);
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('2h'), 7_200_000);
    assert.equal(parseDurationMs('1h1m1s1ms'), 3_661_001);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '10', 's', '10 s', '10sec', '-1s', '1d', '1s 2s', 'ten s']) {
      assert.throws(() => parseDurationMs(bad), isInvalid, bad);
    }
  });
});

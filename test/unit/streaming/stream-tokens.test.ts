import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamTokens } from '../../../src/streaming/index.js';

describe('StreamTokens', () => {
  it('gives a request back once, then never again', () => {
    const tokens = new StreamTokens<string>();
    const t = tokens.issue('exec-a');
    assert.match(t, /^[A-Za-z0-9_-]{8,}$/);
    assert.equal(tokens.take(t), 'exec-a');
    assert.equal(tokens.take(t), undefined);
  });

  it('refuses unknown tokens', () => {
    const tokens = new StreamTokens<string>();
    tokens.issue('x');
    assert.equal(tokens.take('nope'), undefined);
  });

  it('expires tokens unused for the TTL', () => {
    let now = 1000;
    const tokens = new StreamTokens<string>(() => now, 60_000);
    const early = tokens.issue('early');
    now += 30_000;
    const later = tokens.issue('later');
    now += 30_000; // early is exactly 60 s old
    assert.equal(tokens.take(early), undefined);
    assert.equal(tokens.take(later), 'later');
  });

  it('drops the oldest when too many wait', () => {
    const tokens = new StreamTokens<number>(Date.now, 60_000, 3);
    const issued = [1, 2, 3, 4].map((n) => tokens.issue(n));
    assert.equal(tokens.size, 3);
    assert.equal(tokens.take(issued[0]!), undefined);
    assert.equal(tokens.take(issued[3]!), 4);
  });

  it('issues distinct tokens', () => {
    const tokens = new StreamTokens<number>();
    const seen = new Set(Array.from({ length: 500 }, (_, i) => tokens.issue(i)));
    assert.equal(seen.size, 500);
  });
});

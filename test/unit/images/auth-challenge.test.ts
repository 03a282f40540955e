import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate } from '../../../src/images/auth-challenge.js';

describe('WWW-Authenticate parsing', () => {
  it('reads a Bearer challenge with a comma inside a quoted scope', () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example/token',
            service: 'registry.example',
            scope: 'repository:a/b:pull,push',
          },
        },
      ],
    );
  });

  it('reads Basic, escaped quotes, unquoted values and several challenges', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry \\"realm\\""'), [
      { scheme: 'basic', params: { realm: 'Registry "realm"' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Basic realm=x, Bearer realm="r", error=insufficient_scope'), [
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope' } },
    ]);
  });

  it('returns nothing for an empty header', () => {
    assert.deepEqual(parseWwwAuthenticate(''), []);
  });
});

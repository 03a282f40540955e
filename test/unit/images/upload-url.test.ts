import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pushEndpointFor } from '../../../src/images/registry/endpoints.js';
import { uploadUrl, withDigest } from '../../../src/images/registry/upload-url.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('upload URLs', () => {
  it('resolves a relative Location against the request URL', () => {
    assert.equal(
      uploadUrl('/v2/a/b/blobs/uploads/u1?_state=x', 'http://127.0.0.1:5000/v2/a/b/blobs/uploads/'),
      'http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=x',
    );
    assert.equal(uploadUrl('u2', 'https://r.example/v2/a/blobs/uploads/'), 'https://r.example/v2/a/blobs/uploads/u2');
  });

  it('keeps an absolute Location on another host, without its fragment', () => {
    assert.equal(uploadUrl('https://s3.example/up?sig=1#f', 'http://r/v2/'), 'https://s3.example/up?sig=1');
  });

  it('refuses a Location that is not http(s)', () => {
    assert.throws(() => uploadUrl('file:///etc/passwd', 'http://r/v2/'), { code: 'UNAVAILABLE' });
  });

  it('appends the digest and leaves the existing query byte for byte', () => {
    assert.equal(
      withDigest('http://r/v2/a/blobs/uploads/u?_state=ab%3D%3D&x=a+b', DIGEST),
      `http://r/v2/a/blobs/uploads/u?_state=ab%3D%3D&x=a+b&digest=sha256%3A${'a'.repeat(64)}`,
    );
    assert.equal(withDigest('http://r/up', DIGEST), `http://r/up?digest=sha256%3A${'a'.repeat(64)}`);
  });
});

describe('push endpoint', () => {
  it('is the host itself, never a mirror', () => {
    const config = { mirrors: { 'reg.example': { endpoint: ['https://mirror.example'] } } };
    assert.deepEqual(pushEndpointFor('reg.example', config), { baseUrl: 'https://reg.example', isMirror: false });
    assert.deepEqual(pushEndpointFor('docker.io', { mirrors: {} }), {
      baseUrl: 'https://registry-1.docker.io',
      isMirror: false,
    });
  });

  it('uses an endpoint of the same host, so the operator can choose http or https', () => {
    const config = { mirrors: { 'reg.lan:5000': { endpoint: ['https://m.example', 'http://reg.lan:5000/v2/'] } } };
    assert.deepEqual(pushEndpointFor('reg.lan:5000', config), { baseUrl: 'http://reg.lan:5000', isMirror: false });
    const tls = { mirrors: { '127.0.0.1:5000': { endpoint: ['https://127.0.0.1:5000'] } } };
    assert.equal(pushEndpointFor('127.0.0.1:5000', tls).baseUrl, 'https://127.0.0.1:5000');
  });
});

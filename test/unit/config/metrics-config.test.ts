// [metrics] address: off by default, HOST:PORT or [IPv6]:PORT, errors naming the key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfigToml, renderConfigToml } from '../../../src/config/index.js';

describe('[metrics] config', () => {
  it('is off by default and printed by config default', () => {
    assert.equal(defaultConfig().metrics.address, '');
    assert.match(renderConfigToml(defaultConfig()), /^\[metrics\]\naddress = ""$/m);
  });

  it('takes HOST:PORT and [IPv6]:PORT', () => {
    assert.equal(parseConfigToml('[metrics]\naddress = "127.0.0.1:9090"').metrics.address, '127.0.0.1:9090');
    assert.equal(parseConfigToml('[metrics]\naddress = "[::1]:0"').metrics.address, '[::1]:0');
  });

  it('refuses anything else, naming the key', () => {
    for (const bad of ['9090', 'http://127.0.0.1:9090', '127.0.0.1:99999', '127.0.0.1']) {
      assert.throws(
        () => parseConfigToml(`[metrics]\naddress = "${bad}"`, 'test.toml'),
        (err: Error) => /^invalid config test\.toml:\n {2}metrics\.address: /.test(err.message),
        bad,
      );
    }
    assert.throws(() => parseConfigToml('[metrics]\ngrpc_histogram = true'), /metrics\.grpc_histogram: unknown key/);
  });
});

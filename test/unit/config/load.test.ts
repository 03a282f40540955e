import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfigToml, redactConfig, renderConfigToml } from '../../../src/config/index.js';
import { isInvalidArgument } from '../../../src/base/errors.js';

function errorOf(toml: string): string {
  try {
    parseConfigToml(toml, 'test.toml');
  } catch (err) {
    assert.ok(isInvalidArgument(err), 'config errors are INVALID_ARGUMENT');
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('has a default for every key', () => {
    const c = defaultConfig();
    assert.equal(c.root, '/var/lib/berth');
    assert.equal(c.state, '/run/berth');
    assert.equal(c.grpc.address, '/run/berth/berth.sock');
    assert.equal(c.plugins.cri.stream_server_address, '127.0.0.1');
    assert.equal(c.plugins.cri.stream_server_port, 0);
    assert.equal(c.plugins.cri.enable_tls_streaming, false);
    assert.equal(c.plugins.cri.cgroup_driver, 'cgroupfs');
    assert.equal(c.plugins.cri.cni.conf_dir, '/etc/cni/net.d');
    assert.equal(c.plugins.cri.cni.bin_dir, '/opt/cni/bin:/usr/lib/cni');
    assert.equal(c.plugins.cri.containerd.snapshotter, 'overlayfs');
    assert.equal(c.plugins.cri.containerd.default_runtime_name, 'runc');
    assert.deepEqual(Object.keys(c.plugins.cri.containerd.runtimes), ['runc', 'crun']);
  });

  it('renders TOML that parses back to the same config', () => {
    const c = defaultConfig();
    assert.deepEqual(parseConfigToml(renderConfigToml(c)), c);
  });

  it('names the key path of an unknown key', () => {
    assert.match(errorOf('[plugins.cri.cni]\nbindir = "/x"\n'), /plugins\.cri\.cni\.bindir: unknown key/);
    assert.match(errorOf('colour = 1\n'), /colour: unknown key/);
  });

  it('names the key path of a wrong type', () => {
    assert.match(
      errorOf('[plugins.cri]\nstream_server_port = "10010"\n'),
      /plugins\.cri\.stream_server_port: expected/,
    );
    assert.match(errorOf('[plugins.cri]\nstream_server_port = 70000\n'), /plugins\.cri\.stream_server_port: /);
    assert.match(errorOf('root = "relative/dir"\n'), /root: must be an absolute path/);
    assert.match(errorOf('[plugins.cri]\ncgroup_driver = "cgroupv3"\n'), /plugins\.cri\.cgroup_driver: /);
  });

  it('reads the container log rotation keys, with the kubelet defaults', () => {
    const d = defaultConfig().plugins.cri;
    assert.equal(d.container_log_rotation, 'auto');
    assert.equal(d.container_log_max_size, '10Mi');
    assert.equal(d.container_log_max_files, 5);
    assert.equal(d.container_log_monitor_interval, '10s');
    const c = parseConfigToml(
      '[plugins.cri]\ncontainer_log_rotation = "always"\ncontainer_log_max_size = "64Ki"\n' +
        'container_log_max_files = 2\ncontainer_log_monitor_interval = "250ms"\n',
    ).plugins.cri;
    assert.equal(c.container_log_rotation, 'always');
    assert.equal(c.container_log_max_size, '64Ki');
    assert.equal(c.container_log_max_files, 2);
    assert.equal(c.container_log_monitor_interval, '250ms');
    for (const [key, value] of [
      ['container_log_max_size', '"10MB"'],
      ['container_log_max_size', '"0"'],
      ['container_log_max_files', '1'],
      ['container_log_monitor_interval', '"10"'],
      ['container_log_monitor_interval', '"50ms"'],
      ['container_log_rotation', '"sometimes"'],
    ] as const) {
      assert.match(errorOf(`[plugins.cri]\n${key} = ${value}\n`), new RegExp(`plugins\\.cri\\.${key}: `), key);
    }
  });

  it('reads the child process time limits, finite and at least 100ms', () => {
    const d = defaultConfig().plugins.cri;
    assert.equal(d.runtime_timeout, '60s');
    assert.equal(d.runtime_create_timeout, '2m');
    assert.equal(d.cni.plugin_timeout, '60s');
    const c = parseConfigToml(
      '[plugins.cri]\nruntime_timeout = "2s"\nruntime_create_timeout = "3s"\n[plugins.cri.cni]\nplugin_timeout = "1s"\n',
    ).plugins.cri;
    assert.deepEqual([c.runtime_timeout, c.runtime_create_timeout, c.cni.plugin_timeout], ['2s', '3s', '1s']);
    assert.match(errorOf('[plugins.cri]\nruntime_timeout = "0s"\n'), /plugins\.cri\.runtime_timeout: /);
    assert.match(errorOf('[plugins.cri]\nruntime_create_timeout = "2d"\n'), /plugins\.cri\.runtime_create_timeout: /);
    assert.match(errorOf('[plugins.cri.cni]\nplugin_timeout = "forever"\n'), /plugins\.cri\.cni\.plugin_timeout: /);
  });

  it('quotes host keys with dots in paths', () => {
    const msg = errorOf('[plugins.cri.registry.mirrors."docker.io"]\nendpoint = ["ftp://x"]\n');
    assert.match(msg, /plugins\.cri\.registry\.mirrors\."docker\.io"\.endpoint\[0\]: must be an http/);
  });

  it('reports TOML syntax errors with the file name', () => {
    assert.match(errorOf('root = \n'), /invalid config test\.toml/);
  });

  it('merges runtime tables with the built-in runc and crun', () => {
    const c = parseConfigToml(
      '[plugins.cri.containerd]\ndefault_runtime_name = "kata"\n[plugins.cri.containerd.runtimes.kata]\nbinary = "/opt/kata/bin/kata-runtime"\n',
    );
    assert.deepEqual(Object.keys(c.plugins.cri.containerd.runtimes).sort(), ['crun', 'kata', 'runc']);
    assert.equal(c.plugins.cri.containerd.runtimes['kata']?.runtime_type, 'oci');
  });

  it('refuses a default runtime that names no runtime', () => {
    assert.match(
      errorOf('[plugins.cri.containerd]\ndefault_runtime_name = "kata"\n'),
      /default_runtime_name: names no runtime/,
    );
  });

  it('reads mirrors and registry configs, and redacts secrets', () => {
    const c = parseConfigToml(
      [
        '[plugins.cri.registry.mirrors."docker.io"]',
        'endpoint = ["http://127.0.0.1:5000"]',
        '[plugins.cri.registry.configs."127.0.0.1:5000".tls]',
        'insecure_skip_verify = true',
        '[plugins.cri.registry.configs."127.0.0.1:5000".auth]',
        'username = "u"',
        'password = "secret"',
      ].join('\n'),
    );
    assert.deepEqual(c.plugins.cri.registry.mirrors['docker.io']?.endpoint, ['http://127.0.0.1:5000']);
    const host = c.plugins.cri.registry.configs['127.0.0.1:5000'];
    assert.equal(host?.tls.insecure_skip_verify, true);
    assert.equal(host?.auth.password, 'secret');
    const redacted = redactConfig(c).plugins.cri.registry.configs['127.0.0.1:5000'];
    assert.equal(redacted?.auth.password, '[redacted]');
    assert.equal(redacted?.auth.username, 'u');
    assert.doesNotMatch(JSON.stringify(redactConfig(c)), /secret/);
  });
});

// The plugin table of `berth plugins`: one entry per part and per configured runtime, what each requires, the
// default runtime marked, metrics on or off, and a probe that throws reported as not ready.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Exec } from '../../../src/base/exec.js';
import { defaultConfig, parseConfigToml } from '../../../src/config/index.js';
import { pluginEntries, PluginTable } from '../../../src/daemon/plugins.js';

const versionExec: Exec = async (r) => {
  const stdout = `${r.file.split('/').at(-1)} version 9.9\n`;
  return {
    exitCode: 0,
    signal: null,
    stdout,
    stderr: '',
    stdoutBytes: Buffer.from(stdout),
    stderrBytes: Buffer.alloc(0),
    truncated: false,
    durationMs: 1,
  };
};

function sources(config = defaultConfig(), metricsUrl?: string) {
  return {
    config,
    exec: versionExec,
    snapshotter: { kind: 'native' as const, root: '/r/snapshots/native' },
    cni: {
      probe: async () => {
        throw new Error('conf_dir unreadable');
      },
    },
    streamServerUrl: () => 'http://127.0.0.1:1234',
    metricsUrl: () => metricsUrl,
    metaDbPath: '/r/meta.db',
    contentRoot: '/r/content',
  };
}

describe('plugin table', () => {
  it('lists every part with its requirements; runtimes as configured, the default marked', async () => {
    const config = parseConfigToml('[plugins.cri.containerd]\ndefault_runtime_name = "crun"');
    const list = await new PluginTable(pluginEntries(sources(config))).list();
    assert.deepEqual(
      list.map((p) => [p.type, p.id, p.requires.join(',')]),
      [
        ['metadata', 'store', ''],
        ['content', 'content', 'store'],
        ['snapshotter', 'native', 'store'],
        ['cgroups', 'cgroups', ''],
        ['monitor', 'conmon', ''],
        ['runtime', 'runc', 'conmon,cgroups,native'],
        ['runtime', 'crun', 'conmon,cgroups,native'],
        ['network', 'cni', ''],
        ['streaming', 'stream-server', 'crun'],
        ['metrics', 'prometheus', ''],
      ],
    );
    const byId = new Map(list.map((p) => [p.id, p]));
    assert.equal(byId.get('runc')?.reason, '/usr/sbin/runc: runc version 9.9');
    assert.equal(byId.get('runc')?.details['default'], 'false');
    assert.equal(byId.get('crun')?.details['default'], 'true');
    assert.equal(byId.get('conmon')?.reason, '/usr/bin/conmon: conmon version 9.9');
    assert.deepEqual(
      [byId.get('cni')?.isReady, byId.get('cni')?.reason],
      [false, 'conf_dir unreadable'],
      'a probe that throws is not ready, with its message',
    );
    assert.equal(byId.get('stream-server')?.reason, 'exec, attach and port-forward at http://127.0.0.1:1234');
    assert.equal(byId.get('prometheus')?.reason, 'disabled: [metrics] address is empty');
  });

  it('shows the metrics URL when metrics are on', async () => {
    const list = await new PluginTable(pluginEntries(sources(defaultConfig(), 'http://127.0.0.1:9090/metrics'))).list();
    const metrics = list.find((p) => p.type === 'metrics');
    assert.equal(metrics?.reason, 'serving http://127.0.0.1:9090/metrics');
    assert.equal(metrics?.details['url'], 'http://127.0.0.1:9090/metrics');
  });
});

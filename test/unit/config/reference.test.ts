import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { configReference, defaultConfig, renderConfigReference } from '../../../src/config/index.js';

// dist/test/unit/config/ -> the package root.
const REFERENCE = new URL('../../../../docs/config-reference.md', import.meta.url);

/** "a.b.c" for every leaf of the default config, skipping tables of tables (runtimes, mirrors, configs). */
function leafKeys(value: unknown, prefix: string, skip: ReadonlySet<string>): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  if (skip.has(prefix)) return [];
  return Object.entries(value).flatMap(([k, v]) => leafKeys(v, prefix === '' ? k : `${prefix}.${k}`, skip));
}

describe('config reference', () => {
  it('the checked-in docs/config-reference.md is current (npm run gen:config-reference)', async () => {
    const current = await readFile(REFERENCE, 'utf8');
    assert.equal(current, renderConfigReference());
  });

  it('lists every key of the default config, each with a type and a meaning', () => {
    const sections = configReference();
    const documented = sections.flatMap((s) => s.keys.map((k) => (s.table === '' ? k.key : `${s.table}.${k.key}`)));
    const tables = new Set([
      'plugins.cri.containerd.runtimes',
      'plugins.cri.registry.mirrors',
      'plugins.cri.registry.configs',
    ]);
    for (const key of leafKeys(defaultConfig(), '', tables)) {
      assert.ok(documented.includes(key), `${key} is missing from the reference`);
    }
    for (const section of sections) {
      for (const k of section.keys) {
        assert.notEqual(k.meaning, '', `[${section.table}] ${k.key} has no .describe() text in src/config/schema.ts`);
        assert.notEqual(k.type, '', `[${section.table}] ${k.key} has no type`);
      }
    }
  });

  it('shows types, defaults and the built-in runtimes as an operator writes them', () => {
    const sections = configReference();
    const key = (table: string, name: string) =>
      sections.find((s) => s.table === table)?.keys.find((k) => k.key === name);
    assert.deepEqual(key('', 'root'), {
      key: 'root',
      type: 'path',
      defaultToml: '"/var/lib/berth"',
      meaning: 'Persistent data: metadata DB (meta.db), content store, snapshots.',
    });
    assert.equal(key('plugins.cri', 'stream_server_port')?.type, 'integer 0 to 65535');
    assert.equal(key('plugins.cri', 'cgroup_driver')?.type, 'one of `cgroupfs`, `systemd`');
    assert.equal(key('plugins.cri.registry.mirrors."HOST"', 'endpoint')?.defaultToml, '[]');
    const runtimes = sections.find((s) => s.table === 'plugins.cri.containerd.runtimes.NAME');
    assert.equal(runtimes?.keys.find((k) => k.key === 'binary')?.defaultToml, undefined, 'binary is required');
    assert.deepEqual(runtimes?.builtIns.slice(0, 3), [
      '[plugins.cri.containerd.runtimes.runc]',
      'runtime_type = "oci"',
      'binary = "/usr/sbin/runc"',
    ]);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { camelizeKeys, readCriConfigFile } from '../../../src/cli/cri-config-file.js';
import { ago } from '../../../src/cli/format.js';

describe('CRI config files', () => {
  it('camelizes field names but not the keys of map fields', () => {
    assert.deepEqual(
      camelizeKeys({
        log_directory: '/l',
        labels: { app_name: 'x' },
        linux: { sysctls: { 'net.ipv4.ip_forward': '1' }, security_context: { namespace_options: { network: 2 } } },
        port_mappings: [{ container_port: 80 }],
      }),
      {
        logDirectory: '/l',
        labels: { app_name: 'x' },
        linux: { sysctls: { 'net.ipv4.ip_forward': '1' }, securityContext: { namespaceOptions: { network: 2 } } },
        portMappings: [{ containerPort: 80 }],
      },
    );
  });

  it('reads JSON and YAML, and names the file on errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-cfg-'));
    try {
      await writeFile(join(dir, 'p.json'), '{"metadata":{"name":"a"},"log_directory":"/x"}');
      await writeFile(join(dir, 'p.yaml'), 'metadata:\n  name: a\nlog_directory: /x\n');
      await writeFile(join(dir, 'bad.json'), '{');
      const want = { metadata: { name: 'a' }, logDirectory: '/x' };
      assert.deepEqual(await readCriConfigFile(join(dir, 'p.json')), want);
      assert.deepEqual(await readCriConfigFile(join(dir, 'p.yaml')), want);
      await assert.rejects(readCriConfigFile(join(dir, 'bad.json')), /bad\.json is not a valid JSON or YAML config/);
      await assert.rejects(readCriConfigFile(join(dir, 'none.json')), /cannot read .*none\.json: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how long ago, like crictl', () => {
    const now = 1_000_000_000;
    const ns = (msAgo: number) => BigInt(now - msAgo) * 1_000_000n;
    assert.equal(ago(ns(100), now), 'Less than a second ago');
    assert.equal(ago(ns(1000), now), '1 second ago');
    assert.equal(ago(ns(125_000), now), '2 minutes ago');
    assert.equal(ago(ns(7_200_000), now), '2 hours ago');
  });
});

describe('logs --since', () => {
  it('reads RFC3339 and durations before now', async () => {
    const { parseSince } = await import('../../../src/cli/commands/containers.js');
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseSince('10m', now).toISOString(), '2025-12-31T23:50:00.000Z');
    assert.equal(parseSince('1.5h', now).toISOString(), '2025-12-31T22:30:00.000Z');
    assert.equal(parseSince('2026-01-01T00:00:05Z', now).toISOString(), '2026-01-01T00:00:05.000Z');
    assert.throws(() => parseSince('yesterday', now), /--since "yesterday"/);
  });
});

describe('event lines', () => {
  it('name the event, the container, the pod and the namespace', async () => {
    const { formatEvent } = await import('../../../src/cli/commands/events.js');
    const event = {
      timestamp: 1767225600000000000n,
      namespace: 'k8s.io',
      topic: '/container/started',
      payloadJson: JSON.stringify({ id: 'a'.repeat(64), name: 'nginx', pod: 'prod/web', podId: 'b'.repeat(64) }),
    };
    assert.equal(
      formatEvent(event),
      `2026-01-01T00:00:00.000Z container started id=${'a'.repeat(13)} name=nginx pod=prod/web podId=${'b'.repeat(13)} namespace=k8s.io`,
    );
  });
});

// Pure parts of berth content, snapshots, events and plugins: digests, key prefixes, table cells, event lines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contentRows, normalizeDigest, usedBy } from '../../../src/cli/commands/content.js';
import { decodeEvent, formatEvent } from '../../../src/cli/commands/events.js';
import { pluginRows } from '../../../src/cli/commands/plugins.js';
import { resolveKey, shortKey, snapshotRows, snapshotUser } from '../../../src/cli/commands/snapshots.js';
import { CliError } from '../../../src/cli/errors.js';

const HEX = 'ab'.repeat(32);
const NOW = Date.parse('2026-01-01T00:01:00Z');
const AT = 1767225600000000000n; // 2026-01-01T00:00:00Z

describe('berth content', () => {
  it('accepts bare hex digests', () => {
    assert.equal(normalizeDigest(HEX), `sha256:${HEX}`);
    assert.equal(normalizeDigest(`sha256:${HEX}`), `sha256:${HEX}`);
    assert.equal(normalizeDigest('abc'), 'abc', 'anything else goes to the server as given');
  });

  it('shows who uses a blob', () => {
    const ref = (image: string, role: string) => ({ namespace: 'k8s.io', image, role });
    assert.equal(usedBy({ references: [], leased: false }), '-');
    assert.equal(usedBy({ references: [], leased: true }), '(pull in progress)');
    assert.equal(usedBy({ references: [ref('a:1', 'layer')], leased: false }), 'k8s.io/a:1 (layer)');
    assert.equal(
      usedBy({ references: [ref('a:1', 'config'), ref('b:1', 'config')], leased: true }),
      'k8s.io/a:1 (config) +1',
    );
    assert.deepEqual(
      contentRows([{ digest: 'sha256:x', size: 1500n, createdAt: AT, labels: {}, references: [], leased: false }], NOW),
      [['sha256:x', '1.50kB', '1 minute ago', '-']],
    );
  });
});

describe('berth snapshots', () => {
  const keys = [`sha256:${'1'.repeat(64)}`, `sha256:12${'0'.repeat(62)}`, 'c'.repeat(64)];

  it('shortens chain IDs and container ids like the other tables', () => {
    assert.equal(shortKey(keys[0]!), `sha256:${'1'.repeat(12)}`);
    assert.equal(shortKey(keys[2]!), 'c'.repeat(13));
    assert.equal(shortKey('my-key'), 'my-key');
  });

  it('resolves exact keys and unique prefixes, with or without sha256:', () => {
    assert.equal(resolveKey(keys, keys[0]!), keys[0]);
    assert.equal(resolveKey(keys, '111'), keys[0]);
    assert.equal(resolveKey(keys, 'sha256:120'), keys[1]);
    assert.equal(resolveKey(keys, 'ccc'), keys[2]);
    assert.throws(
      () => resolveKey(keys, '1'),
      (err) => err instanceof CliError && /matches 2 snapshots/.test(err.message),
    );
    assert.throws(
      () => resolveKey(keys, 'ff'),
      (err) => err instanceof CliError && err.message === 'no such snapshot: ff',
    );
  });

  it('says who uses a snapshot', () => {
    assert.equal(snapshotUser({ images: [], container: 'k8s.io/web' }), 'container k8s.io/web');
    assert.equal(snapshotUser({ images: ['k8s.io/a:1', 'default/a:1'], container: '' }), 'k8s.io/a:1 +1');
    assert.equal(snapshotUser({ images: [], container: '' }), '-');
    const row = {
      key: keys[2]!,
      parent: keys[0]!,
      kind: 'active',
      createdAt: AT,
      sizeBytes: 0n,
      inodes: 0n,
      images: [],
      container: 'k8s.io/web',
    };
    assert.deepEqual(snapshotRows([row], true, NOW), [
      ['c'.repeat(13), 'active', `sha256:${'1'.repeat(12)}`, '1 minute ago', 'container k8s.io/web'],
    ]);
    assert.deepEqual(snapshotRows([{ ...row, parent: '' }], false, NOW)[0]?.slice(0, 3), [keys[2], 'active', '-']);
  });
});

describe('berth events lines', () => {
  it('name a namespace by its name, leave node-wide events without one, quote odd values', () => {
    const ev = (topic: string, namespace: string, payload: unknown) => ({
      timestamp: AT,
      namespace,
      topic,
      payloadJson: JSON.stringify(payload),
    });
    assert.equal(
      formatEvent(ev('/namespace/created', 'team-a', {})),
      '2026-01-01T00:00:00.000Z namespace created name=team-a',
    );
    assert.equal(
      formatEvent(ev('/content/removed', '', { digest: `sha256:${HEX}` })),
      `2026-01-01T00:00:00.000Z content removed digest=sha256:${HEX}`,
    );
    assert.equal(
      formatEvent(ev('/image/tagged', 'default', { name: 'a b', n: 3 })),
      '2026-01-01T00:00:00.000Z image tagged name="a b" n=3 namespace=default',
    );
    assert.deepEqual(decodeEvent(ev('/pod/removed', 'k8s.io', { id: 'p' })), {
      time: '2026-01-01T00:00:00.000Z',
      namespace: 'k8s.io',
      topic: '/pod/removed',
      type: 'pod',
      action: 'removed',
      fields: { id: 'p' },
    });
    assert.deepEqual(decodeEvent({ ...ev('/pod/removed', '', {}), payloadJson: 'not json' }).fields, {
      payload: 'not json',
    });
  });
});

describe('berth plugins', () => {
  it('prints ok or error with the reason', () => {
    assert.deepEqual(
      pluginRows([
        {
          type: 'runtime',
          id: 'runc',
          requires: [],
          ready: true,
          reason: '/usr/sbin/runc: runc version 1',
          details: {},
        },
        { type: 'monitor', id: 'conmon', requires: [], ready: false, reason: '/x not found', details: {} },
      ]),
      [
        ['runtime', 'runc', 'ok', '/usr/sbin/runc: runc version 1'],
        ['monitor', 'conmon', 'error', '/x not found'],
      ],
    );
  });
});

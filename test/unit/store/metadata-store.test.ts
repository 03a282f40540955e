import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataStore, MIGRATIONS, schemaVersion } from '../../../src/store/index.js';
import { errorCode } from '../../../src/base/errors.js';

const clock = (): bigint => 1_700_000_000_000_000_000n;

async function withRoot(fn: (root: string) => void): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-store-'));
  try {
    fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return errorCode(err);
  }
  return 'OK';
}

describe('metadata store', () => {
  it('migrates to the latest schema, in WAL mode, with the built-in namespaces', () =>
    withRoot((root) => {
      const store = MetadataStore.open(root, clock);
      try {
        assert.equal(schemaVersion(store.db), Math.max(...MIGRATIONS.map((m) => m.version)));
        assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
        assert.deepEqual(
          store.namespaces.list().map((n) => n.name),
          ['default', 'k8s.io', 'moby'],
        );
        assert.equal(store.namespaces.get('k8s.io').createdAtNs, clock());
      } finally {
        store.close();
      }
    }));

  it('reopening keeps data and runs no migration twice', () =>
    withRoot((root) => {
      const first = MetadataStore.open(root, clock);
      first.namespaces.create('team-a', { owner: 'ops' });
      first.settings.set('k', 'v');
      first.close();
      first.close(); // idempotent
      const second = MetadataStore.open(root, clock);
      try {
        assert.deepEqual(second.namespaces.get('team-a').labels, { owner: 'ops' });
        assert.equal(second.settings.get('k'), 'v');
        assert.equal(second.namespaces.list().length, 4);
      } finally {
        second.close();
      }
    }));

  it('is exclusive: a second open of the same root fails clearly', () =>
    withRoot((root) => {
      const first = MetadataStore.open(root, clock);
      try {
        assert.throws(() => MetadataStore.open(root, clock), /another berthd is already running with this root/);
      } finally {
        first.close();
      }
      MetadataStore.open(root, clock).close(); // free again once the first is closed
    }));

  it('refuses a schema newer than it knows', () =>
    withRoot((root) => {
      const store = MetadataStore.open(root, clock);
      store.db.pragma('user_version = 999');
      store.close();
      assert.throws(() => MetadataStore.open(root, clock), /newer than this berthd knows/);
    }));

  it('validates namespace names and guards the built-ins', () =>
    withRoot((root) => {
      const store = MetadataStore.open(root, clock);
      try {
        assert.equal(
          codeOf(() => store.namespaces.create('a/b')),
          'INVALID_ARGUMENT',
        );
        assert.equal(
          codeOf(() => store.namespaces.create('')),
          'INVALID_ARGUMENT',
        );
        assert.equal(
          codeOf(() => store.namespaces.create('x'.repeat(77))),
          'INVALID_ARGUMENT',
        );
        assert.equal(
          codeOf(() => store.namespaces.create('default')),
          'ALREADY_EXISTS',
        );
        assert.equal(
          codeOf(() => store.namespaces.remove('k8s.io')),
          'FAILED_PRECONDITION',
        );
        assert.equal(
          codeOf(() => store.namespaces.remove('nope')),
          'NOT_FOUND',
        );
        assert.equal(
          codeOf(() => store.namespaces.get('nope')),
          'NOT_FOUND',
        );
        assert.equal(
          codeOf(() => store.namespaces.create('team.a-1_b')),
          'OK',
        );
      } finally {
        store.close();
      }
    }));
});

// Admin content, snapshots, events and plugins handlers with fakes: chunked blob reads, removals routed to the
// domain that may refuse them and the events they publish, the Subscribe filter and its overflow.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { deleteContent, listContent, readContent, CONTENT_CHUNK_BYTES } from '../../../src/admin/content.js';
import { subscribe } from '../../../src/admin/events.js';
import { MAX_PENDING_EVENTS as MAX_PENDING } from '../../../src/events/index.js';
import { listPlugins } from '../../../src/admin/plugins.js';
import { listSnapshots, removeSnapshot } from '../../../src/admin/snapshots.js';
import type { AdminContent, AdminSnapshots } from '../../../src/admin/index.js';
import type { Event } from '../../../src/api/gen/admin.js';
import { BerthError, errorCode } from '../../../src/base/errors.js';
import type { CallContext } from '../../../src/cri/index.js';
import { EventBus } from '../../../src/events/index.js';
import type { BerthEvent } from '../../../src/events/index.js';

const log = pino({ level: 'silent' });
const nowNs = (): bigint => 42n;

function ctx(signal = new AbortController().signal): CallContext {
  return { namespace: 'default', log, reqId: 'r', signal };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return errorCode(err);
  }
  return 'OK';
}

function recorder(): EventBus<BerthEvent> & { readonly seen: BerthEvent[] } {
  const bus = new EventBus<BerthEvent>();
  const seen: BerthEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  return Object.assign(bus, { seen });
}

function fakeContent(blobs: Map<string, Buffer>, refused = new Set<string>()): AdminContent {
  return {
    list: async () =>
      [...blobs].map(([digest, b]) => ({
        digest,
        sizeBytes: b.length,
        createdAtMs: 1000,
        references: [{ namespace: 'k8s.io', image: 'busybox:1', role: 'layer' as const }],
        isLeased: false,
      })),
    info: async (digest) => {
      const b = blobs.get(digest);
      if (b === undefined) throw new BerthError('NOT_FOUND', `content ${digest} not found`);
      return { sizeBytes: b.length };
    },
    read: (digest, start) => Readable.from([blobs.get(digest)!.subarray(start)]),
    delete: async (digest) => {
      if (refused.has(digest)) throw new BerthError('FAILED_PRECONDITION', 'an image needs it');
      if (!blobs.delete(digest)) throw new BerthError('NOT_FOUND', 'absent');
    },
  };
}

describe('admin content', () => {
  it('lists blobs with their references, times in nanoseconds', async () => {
    const res = await listContent(fakeContent(new Map([['sha256:a', Buffer.from('xyz')]])))({ namespace: '' });
    assert.deepEqual(res.content, [
      {
        digest: 'sha256:a',
        size: 3n,
        createdAt: 1_000_000_000n,
        labels: {},
        references: [{ namespace: 'k8s.io', image: 'busybox:1', role: 'layer' }],
        leased: false,
      },
    ]);
  });

  it('streams a blob in chunks of at most CONTENT_CHUNK_BYTES, from an offset', async () => {
    const blob = Buffer.alloc(CONTENT_CHUNK_BYTES * 2 + 10, 7);
    blob[100] = 1;
    const content = fakeContent(new Map([['sha256:b', blob]]));
    const sent: Buffer[] = [];
    const send = async (m: { data: Buffer }) => void sent.push(m.data);
    await readContent(content)({ namespace: '', digest: 'sha256:b', offset: 0n }, ctx(), send);
    assert.deepEqual(
      sent.map((c) => c.length),
      [CONTENT_CHUNK_BYTES, CONTENT_CHUNK_BYTES, 10],
    );
    assert.ok(Buffer.concat(sent).equals(blob));
    sent.length = 0;
    await readContent(content)({ namespace: '', digest: 'sha256:b', offset: 100n }, ctx(), send);
    assert.ok(Buffer.concat(sent).equals(blob.subarray(100)));
    const read = readContent(content);
    assert.equal(
      await codeOf(read({ namespace: '', digest: 'sha256:b', offset: BigInt(blob.length + 1) }, ctx(), send)),
      'OUT_OF_RANGE',
    );
    assert.equal(await codeOf(read({ namespace: '', digest: 'sha256:none', offset: 0n }, ctx(), send)), 'NOT_FOUND');
    assert.equal(await codeOf(read({ namespace: '', digest: '', offset: 0n }, ctx(), send)), 'INVALID_ARGUMENT');
  });

  it('removes through the domain, publishing only what was removed', async () => {
    const bus = recorder();
    const content = fakeContent(
      new Map([
        ['sha256:c', Buffer.from('1')],
        ['sha256:d', Buffer.from('2')],
      ]),
      new Set(['sha256:d']),
    );
    const rm = deleteContent(content, bus, nowNs);
    await rm({ namespace: '', digest: 'sha256:c' });
    assert.equal(await codeOf(rm({ namespace: '', digest: 'sha256:d' })), 'FAILED_PRECONDITION');
    assert.equal(await codeOf(rm({ namespace: '', digest: 'sha256:c' })), 'NOT_FOUND');
    assert.deepEqual(bus.seen, [
      { type: 'content', action: 'removed', namespace: '', atNs: 42n, fields: { digest: 'sha256:c' } },
    ]);
  });
});

function fakeSnapshots(calls: string[]): AdminSnapshots {
  return {
    store: {
      kind: 'overlayfs',
      list: () => [
        { chainId: 'sha256:l1', parent: null, createdAtMs: 1 },
        { chainId: 'sha256:l2', parent: 'sha256:l1', createdAtMs: 3 },
      ],
      listActive: () => [
        { key: 'ctr1', parent: 'sha256:l2', createdAtMs: 2 },
        { key: 'leftover', parent: null, createdAtMs: 4 },
      ],
      usageOf: async (key) => {
        if (key === 'leftover') throw new BerthError('NOT_FOUND', 'gone meanwhile');
        return { bytes: 10, inodes: 2 };
      },
      layerUsage: async () => ({ bytes: 1000, inodes: 30 }),
    },
    layerImages: () => new Map([['sha256:l1', ['k8s.io/busybox:1', 'default/busybox:1']]]),
    removeLayer: async (c) => void calls.push(`layer ${c}`),
    containerOf: (key) => (key === 'ctr1' ? 'k8s.io/web' : undefined),
    removeActive: async (k) => void calls.push(`active ${k}`),
  };
}

describe('admin snapshots', () => {
  it('lists layers with their images and active snapshots with their container, oldest first', async () => {
    const res = await listSnapshots(fakeSnapshots([]))({ namespace: '', snapshotter: '', usage: false, key: '' });
    assert.deepEqual(
      res.snapshots.map((s) => [s.key, s.kind, s.parent, s.createdAt, s.images, s.container]),
      [
        ['sha256:l1', 'committed', '', 1_000_000n, ['k8s.io/busybox:1', 'default/busybox:1'], ''],
        ['ctr1', 'active', 'sha256:l2', 2_000_000n, [], 'k8s.io/web'],
        ['sha256:l2', 'committed', 'sha256:l1', 3_000_000n, [], ''],
        ['leftover', 'active', '', 4_000_000n, [], ''],
      ],
    );
  });

  it('measures usage on request, per key or for all (a snapshot gone meanwhile is left out)', async () => {
    const list = listSnapshots(fakeSnapshots([]));
    const one = await list({ namespace: '', snapshotter: 'overlayfs', usage: true, key: 'sha256:l2' });
    assert.deepEqual(
      one.snapshots.map((s) => [s.key, s.sizeBytes, s.inodes]),
      [['sha256:l2', 1000n, 30n]],
    );
    const every = await list({ namespace: '', snapshotter: '', usage: true, key: '' });
    assert.deepEqual(
      every.snapshots.map((s) => [s.key, s.sizeBytes]),
      [
        ['sha256:l1', 1000n],
        ['ctr1', 10n],
        ['sha256:l2', 1000n],
      ],
    );
    assert.equal(await codeOf(list({ namespace: '', snapshotter: '', usage: true, key: 'nope' })), 'NOT_FOUND');
    assert.equal(await codeOf(list({ namespace: '', snapshotter: 'native', usage: false, key: '' })), 'NOT_FOUND');
  });

  it('routes removal by kind and publishes it; unknown keys are NOT_FOUND', async () => {
    const calls: string[] = [];
    const bus = recorder();
    const rm = removeSnapshot(fakeSnapshots(calls), bus, nowNs);
    await rm({ namespace: '', snapshotter: '', key: 'leftover' });
    await rm({ namespace: '', snapshotter: '', key: 'sha256:l2' });
    assert.deepEqual(calls, ['active leftover', 'layer sha256:l2']);
    assert.deepEqual(
      bus.seen.map((e) => [e.type, e.action, e.namespace, e.fields]),
      [
        ['snapshot', 'removed', '', { key: 'leftover', kind: 'active' }],
        ['snapshot', 'removed', '', { key: 'sha256:l2', kind: 'committed' }],
      ],
    );
    assert.equal(await codeOf(rm({ namespace: '', snapshotter: '', key: 'sha256:zz' })), 'NOT_FOUND');
    assert.equal(await codeOf(rm({ namespace: '', snapshotter: '', key: '' })), 'INVALID_ARGUMENT');
  });
});

const event = (namespace: string, type: 'image' | 'pod' = 'image'): BerthEvent =>
  type === 'image'
    ? { type, action: 'pulled', namespace, atNs: 1n, fields: { id: 'i' } }
    : { type, action: 'created', namespace, atNs: 1n, fields: { id: 'p' } };

describe('admin Subscribe', () => {
  it('sends the matching events until the client goes, then unsubscribes', async () => {
    const bus = new EventBus<BerthEvent>();
    const abort = new AbortController();
    const got: Event[] = [];
    const done = subscribe(bus)({ topics: ['/image/'], namespaces: ['k8s.io'] }, ctx(abort.signal), async (m) => {
      got.push(m);
      if (got.length === 2) abort.abort();
    });
    bus.publish(event('k8s.io', 'pod'));
    bus.publish(event('default'));
    bus.publish(event('k8s.io'));
    bus.publish(event('k8s.io'));
    await done;
    assert.deepEqual(got[0], { timestamp: 1n, namespace: 'k8s.io', topic: '/image/pulled', payloadJson: '{"id":"i"}' });
    assert.equal(got.length, 2);
    assert.equal(bus.subscriberCount, 0);
  });

  it('refuses a topic that is not a path prefix', async () => {
    const res = subscribe(new EventBus<BerthEvent>())({ topics: ['image'], namespaces: [] }, ctx(), async () => {});
    assert.equal(await codeOf(res), 'INVALID_ARGUMENT');
  });

  it('ends with RESOURCE_EXHAUSTED when the reader falls more than MAX_PENDING events behind', async () => {
    const bus = new EventBus<BerthEvent>();
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    const done = subscribe(bus)({ topics: [], namespaces: [] }, ctx(), () => stalled);
    bus.publish(event('k8s.io'));
    await new Promise((r) => setImmediate(r)); // the first send is in flight and stalls
    for (let i = 0; i <= MAX_PENDING + 1; i++) bus.publish(event('k8s.io'));
    release();
    assert.equal(await codeOf(done), 'RESOURCE_EXHAUSTED');
    assert.equal(bus.subscriberCount, 0);
  });
});

describe('admin ListPlugins', () => {
  it('maps each plugin status to the wire', async () => {
    const res = await listPlugins({
      list: async () => [
        { type: 'monitor', id: 'conmon', requires: [], isReady: false, reason: 'x not found', details: { path: 'x' } },
      ],
    })({});
    assert.deepEqual(res.plugins, [
      { type: 'monitor', id: 'conmon', requires: [], ready: false, reason: 'x not found', details: { path: 'x' } },
    ]);
  });
});

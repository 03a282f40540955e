// List answers spliced from cached entries: the bytes equal ts-proto's encoding of the same response, an entry is
// encoded again when its record is replaced or its variant changes, and the serializer passes the bytes through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData, handleUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  ContainerConfig,
  ContainerState,
  ListContainersResponse,
  ListPodSandboxResponse,
  PodSandboxState,
  RuntimeServiceService,
} from '../../../src/api/gen/cri.js';
import { Container as ContainerMessage } from '../../../src/api/gen/cri.js';
import { buildService, tolerantDefinition } from '../../../src/cri/index.js';
import type { Containers, ImageLookup, Sandboxes } from '../../../src/cri/index.js';
import { EncodedMessage } from '../../../src/cri/server.js';
import { EntryCache, varint } from '../../../src/cri/list-encoding.js';
import { listContainers } from '../../../src/cri/containers.js';
import { listPodSandbox } from '../../../src/cri/pod-sandbox.js';
import type { Container } from '../../../src/runtime/index.js';
import type { Sandbox } from '../../../src/sandbox/index.js';
import type { CallContext } from '../../../src/cri/index.js';

const ctx: CallContext = {
  namespace: 'k8s.io',
  log: pino({ level: 'silent' }),
  reqId: 'test',
  signal: new AbortController().signal,
};

/** No filter (kubelet's relist). */
const ALL = { filter: undefined };

function container(id: string, over: Partial<Container> = {}): Container {
  return {
    id,
    namespace: 'k8s.io',
    sandboxId: `pod-${id}`,
    name: `c-${id}`,
    config: ContainerConfig.fromPartial({
      metadata: { name: `c-${id}`, attempt: 2 },
      labels: { 'io.kubernetes.pod.uid': `uid-${id}`, app: 'web' },
      annotations: { note: 'x'.repeat(300) },
    }),
    imageId: 'sha256:abc',
    imageRef: 'busybox:latest',
    runtimeHandler: 'runc',
    stopSignal: 'SIGTERM',
    createdAtNs: 1_700_000_000_123_456_789n,
    state: 'running',
    status: { pid: 1, startedAtNs: 1n, finishedAtNs: 0n, exitCode: 0, reason: '', message: '', logPath: '' },
    ...over,
  };
}

function sandbox(id: string, over: Partial<Sandbox> = {}): Sandbox {
  return {
    id,
    namespace: 'k8s.io',
    spec: { labels: { 'io.kubernetes.pod.uid': `uid-${id}` }, annotations: { a: 'b' }, runtimeHandler: '' },
    config: { metadata: { name: `pod-${id}`, uid: `uid-${id}`, namespace: 'default', attempt: 0 } },
    createdAtNs: 42n,
    state: 'ready',
    network: {},
    ...over,
  } as Sandbox;
}

/** A Containers fake listing a mutable set of records (the filter is the real service's job, not tested here). */
function fakeContainers(records: Container[]): Containers {
  return { list: () => [...records] } as unknown as Containers;
}

function fakeImages(digest: { value: string }): ImageLookup {
  return { find: () => ({ repoDigests: [digest.value] }) } as unknown as ImageLookup;
}

function bytesOf<T>(answer: T | EncodedMessage<T>): Buffer {
  assert.ok(answer instanceof EncodedMessage, 'the answer is pre-encoded');
  return answer.bytes;
}

describe('list encoding', () => {
  it('writes varints like protobuf', () => {
    assert.deepEqual([...varint(0)], [0]);
    assert.deepEqual([...varint(127)], [127]);
    assert.deepEqual([...varint(128)], [0x80, 0x01]);
    assert.deepEqual([...varint(300)], [0xac, 0x02]);
    assert.deepEqual([...varint(2 ** 32 - 1)], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('splices ListContainers byte for byte as ts-proto encodes the same response', async () => {
    const records = [container('a'), container('b', { state: 'exited' }), container('c', { imageId: 'sha256:def' })];
    const list = listContainers(fakeContainers(records), fakeImages({ value: 'busybox@sha256:1111' }));
    const answer = bytesOf(await list(ALL, ctx));
    const decoded = ListContainersResponse.decode(answer);
    assert.equal(decoded.containers.length, 3);
    assert.equal(decoded.containers[1]?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(decoded.containers[0]?.imageRef, 'busybox@sha256:1111');
    assert.deepEqual(answer, Buffer.from(ListContainersResponse.encode(decoded).finish()));
    // A second answer from the cache is the same bytes.
    assert.deepEqual(bytesOf(await list(ALL, ctx)), answer);
  });

  it('encodes an entry again when its record is replaced or its image digest changes', async () => {
    const records = [container('a'), container('b')];
    const digest = { value: 'busybox@sha256:1111' };
    const list = listContainers(fakeContainers(records), fakeImages(digest));
    await list(ALL, ctx);
    records[1] = { ...records[1]!, state: 'exited', status: { ...records[1]!.status, exitCode: 3 } };
    let decoded = ListContainersResponse.decode(bytesOf(await list(ALL, ctx)));
    assert.equal(decoded.containers[0]?.state, ContainerState.CONTAINER_RUNNING);
    assert.equal(decoded.containers[1]?.state, ContainerState.CONTAINER_EXITED);
    digest.value = 'busybox@sha256:2222';
    decoded = ListContainersResponse.decode(bytesOf(await list(ALL, ctx)));
    assert.deepEqual(
      decoded.containers.map((c) => c.imageRef),
      ['busybox@sha256:2222', 'busybox@sha256:2222'],
    );
    records.pop();
    decoded = ListContainersResponse.decode(bytesOf(await list(ALL, ctx)));
    assert.deepEqual(
      decoded.containers.map((c) => c.id),
      ['a'],
    );
  });

  it('answers an empty list with an empty message', async () => {
    const list = listContainers(fakeContainers([]), fakeImages({ value: '' }));
    assert.equal(bytesOf(await list(ALL, ctx)).length, 0);
  });

  it('splices ListPodSandbox as ts-proto encodes it, and follows a state change', async () => {
    const records = [sandbox('p1'), sandbox('p2')];
    const sandboxes = { list: () => [...records] } as unknown as Sandboxes;
    const list = listPodSandbox(sandboxes);
    const answer = bytesOf(await list(ALL, ctx));
    const decoded = ListPodSandboxResponse.decode(answer);
    assert.deepEqual(
      decoded.items.map((p) => p.metadata?.name),
      ['pod-p1', 'pod-p2'],
    );
    assert.deepEqual(answer, Buffer.from(ListPodSandboxResponse.encode(decoded).finish()));
    records[0] = { ...records[0]!, state: 'notready' };
    const after = ListPodSandboxResponse.decode(bytesOf(await list(ALL, ctx)));
    assert.equal(after.items[0]?.state, PodSandboxState.SANDBOX_NOTREADY);
    assert.equal(after.items[1]?.state, PodSandboxState.SANDBOX_READY);
  });

  it('keeps one encoding per record and variant', () => {
    let encodes = 0;
    const cache = new EntryCache<{ n: number }>(1, (r, v) => {
      encodes++;
      return ContainerMessage.encode(ContainerMessage.fromPartial({ id: `${r.n}${v}` })).finish();
    });
    const r = { n: 1 };
    const first = cache.bytesOf(r, 'x');
    assert.equal(cache.bytesOf(r, 'x'), first);
    assert.equal(encodes, 1);
    cache.bytesOf(r, 'y');
    cache.bytesOf({ n: 1 }, 'y');
    assert.equal(encodes, 3);
    const decoded = ListContainersResponse.decode(cache.splice<ListContainersResponse>([first]).bytes);
    assert.equal(decoded.containers[0]?.id, '1x');
  });

  it('hands out the same answer bytes while the entries are the same, new ones when one changes', () => {
    const cache = new EntryCache<{ n: number }>(1, (r) =>
      ContainerMessage.encode(ContainerMessage.fromPartial({ id: String(r.n) })).finish(),
    );
    const records = [{ n: 1 }, { n: 2 }, { n: 3 }];
    const all = (): Buffer => cache.splice(records.map((r) => cache.bytesOf(r))).bytes;
    const one = (): Buffer => cache.splice([cache.bytesOf(records[0]!)]).bytes;
    const first = all();
    const single = one();
    assert.equal(all(), first, 'the same Buffer, not a copy');
    assert.equal(one(), single);
    records[1] = { n: 20 };
    const changed = all();
    assert.notEqual(changed, first);
    assert.deepEqual(
      ListContainersResponse.decode(changed).containers.map((c) => c.id),
      ['1', '20', '3'],
    );
    assert.equal(one(), single, 'an answer whose entries did not change is kept');
    for (let i = 0; i < 10; i++) cache.splice([cache.bytesOf({ n: 100 + i })]);
    assert.notEqual(one(), single, 'only a few answers are remembered');
  });

  it('serves pre-encoded answers through the served definition unchanged, and ts-proto objects encoded', async () => {
    const served = tolerantDefinition(RuntimeServiceService);
    const bytes = Buffer.from([10, 2, 10, 0]);
    assert.equal(served.listContainers.responseSerialize(new EncodedMessage(bytes) as never), bytes);
    const plain = { containers: [ContainerMessage.fromPartial({ id: 'x' })] };
    assert.deepEqual(
      served.listContainers.responseSerialize(plain),
      Buffer.from(ListContainersResponse.encode(plain).finish()),
    );
    const impl = buildService(
      RuntimeServiceService,
      { listContainers: listContainers(fakeContainers([container('a')]), fakeImages({ value: 'd' })) },
      { serviceName: 'RuntimeService', log: ctx.log, isReady: () => true },
    );
    const call = Object.assign(new EventEmitter(), { request: ALL, metadata: new Metadata() });
    const value = await new Promise<unknown>((resolve, reject) => {
      const cb: sendUnaryData<unknown> = (err, v) => (err ? reject(new Error(err.details)) : resolve(v));
      (impl['listContainers'] as handleUnaryCall<unknown, unknown>)(
        call as unknown as ServerUnaryCall<unknown, unknown>,
        cb,
      );
    });
    const wire = served.listContainers.responseSerialize(value as never);
    assert.equal(ListContainersResponse.decode(wire).containers[0]?.id, 'a');
  });
});

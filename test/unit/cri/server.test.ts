// The instrumented wrapper, driven with fake grpc-js calls: readiness, UNIMPLEMENTED, error mapping,
// namespaces and server streaming.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Metadata, status } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData, handleUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import { AdminService } from '../../../src/api/gen/admin.js';
import type { PullImageRequest, SubscribeRequest } from '../../../src/api/gen/admin.js';
import { ImageServiceService, RuntimeServiceService } from '../../../src/api/gen/cri.js';
import type { ListImagesRequest, VersionRequest } from '../../../src/api/gen/cri.js';
import { buildService, GRPC_STATUS } from '../../../src/cri/index.js';
import { BerthError } from '../../../src/base/errors.js';

const log = pino({ level: 'silent' });

interface Outcome {
  readonly err: { code?: number; details?: string } | null;
  readonly value: unknown;
}

function invoke(handler: unknown, request: unknown, namespace?: string): Promise<Outcome> {
  const metadata = new Metadata();
  if (namespace !== undefined) metadata.set('containerd-namespace', namespace);
  const call = Object.assign(new EventEmitter(), { request, metadata }) as unknown as ServerUnaryCall<unknown, unknown>;
  return new Promise((resolve) => {
    const cb: sendUnaryData<unknown> = (err, value) => resolve({ err, value });
    (handler as handleUnaryCall<unknown, unknown>)(call, cb);
  });
}

describe('cri server wrapper', () => {
  it('answers UNAVAILABLE while not ready', async () => {
    const impl = buildService(
      RuntimeServiceService,
      {
        version: async (_r: VersionRequest) => ({
          version: '',
          runtimeName: '',
          runtimeVersion: '',
          runtimeApiVersion: '',
        }),
      },
      { serviceName: 'RuntimeService', log, isReady: () => false },
    );
    const out = await invoke(impl['version'], { version: 'v1' });
    assert.equal(out.err?.code, status.UNAVAILABLE);
    assert.match(out.err?.details ?? '', /not initialized/);
  });

  it('answers UNIMPLEMENTED naming the RPC when no handler exists', async () => {
    const impl = buildService(RuntimeServiceService, {}, { serviceName: 'RuntimeService', log, isReady: () => true });
    const out = await invoke(impl['runPodSandbox'], {});
    assert.equal(out.err?.code, status.UNIMPLEMENTED);
    assert.equal(out.err?.details, 'RuntimeService.RunPodSandbox is not implemented by berth yet');
    assert.ok(
      Object.keys(RuntimeServiceService).every((m) => typeof impl[m] === 'function'),
      'every RPC has a handler',
    );
  });

  it('maps BerthError codes to gRPC status codes and unclassified errors to UNKNOWN', async () => {
    for (const [code, num] of Object.entries(GRPC_STATUS)) {
      const impl = buildService(
        RuntimeServiceService,
        {
          version: async () => {
            throw new BerthError(code as keyof typeof GRPC_STATUS, `boom ${code}`);
          },
        },
        { serviceName: 'RuntimeService', log, isReady: () => true },
      );
      const out = await invoke(impl['version'], {});
      assert.equal(out.err?.code, num, code);
      assert.equal(out.err?.details, `boom ${code}`);
    }
    const impl = buildService(
      RuntimeServiceService,
      {
        version: async () => {
          throw new TypeError('oops');
        },
      },
      { serviceName: 'RuntimeService', log, isReady: () => true },
    );
    const out = await invoke(impl['version'], {});
    assert.equal(out.err?.code, status.UNKNOWN);
  });

  it('passes the handler result through', async () => {
    const res = { version: '0.1.0', runtimeName: 'berth', runtimeVersion: 'x', runtimeApiVersion: 'v1' };
    const impl = buildService(
      RuntimeServiceService,
      { version: async () => res },
      {
        serviceName: 'RuntimeService',
        log,
        isReady: () => true,
      },
    );
    const out = await invoke(impl['version'], { version: 'v1' });
    assert.equal(out.err, null);
    assert.deepEqual(out.value, res);
  });

  it('gives handlers the namespace of the call: metadata, else the default; unknown ones are NOT_FOUND', async () => {
    const seen: string[] = [];
    const impl = buildService(
      ImageServiceService,
      {
        listImages: async (_r: ListImagesRequest, ctx) => {
          seen.push(ctx.namespace);
          return { images: [] };
        },
      },
      {
        serviceName: 'ImageService',
        log,
        isReady: () => true,
        defaultNamespace: 'k8s.io',
        namespaceExists: (n) => n === 'k8s.io' || n === 'default',
      },
    );
    assert.equal((await invoke(impl['listImages'], {})).err, null);
    assert.equal((await invoke(impl['listImages'], {}, 'default')).err, null);
    const out = await invoke(impl['listImages'], {}, 'nope');
    assert.equal(out.err?.code, status.NOT_FOUND);
    assert.equal(out.err?.details, 'namespace "nope" not found');
    assert.deepEqual(seen, ['k8s.io', 'default']);
  });

  it('streams server-streaming responses, then ends; a failure becomes the call status', async () => {
    const run = (fail: boolean) =>
      new Promise<{ messages: unknown[]; err: { code?: number; details?: string } | null }>((resolve) => {
        const impl = buildService(
          AdminService,
          {
            pullImage: async (_r: PullImageRequest, _ctx, send) => {
              await send({ layers: [], imageId: '', repoTags: [], repoDigests: [] });
              if (fail) throw new BerthError('NOT_FOUND', 'no such image');
              await send({ layers: [], imageId: 'sha256:x', repoTags: [], repoDigests: [] });
            },
          },
          { serviceName: 'Admin', log, isReady: () => true },
        );
        const messages: unknown[] = [];
        const call = Object.assign(new EventEmitter(), {
          request: {},
          metadata: new Metadata(),
          sendMetadata: () => undefined,
          write: (m: unknown) => {
            messages.push(m);
            return true;
          },
          end: () => resolve({ messages, err: null }),
        });
        call.on('error', (err: { code?: number; details?: string }) => resolve({ messages, err }));
        (impl['pullImage'] as (c: unknown) => void)(call);
      });
    const ok = await run(false);
    assert.equal(ok.err, null);
    assert.equal(ok.messages.length, 2);
    const failed = await run(true);
    assert.equal(failed.messages.length, 1);
    assert.equal(failed.err?.code, status.NOT_FOUND);
    assert.equal(failed.err?.details, 'no such image');
  });

  it('ends a server stream with UNAVAILABLE when the daemon shuts down, and drops its listener', async () => {
    const shutdown = new AbortController();
    const ends: string[] = [];
    const impl = buildService(
      AdminService,
      {
        subscribe: async (_r: SubscribeRequest, ctx) => {
          // Like the event streams: waits until its signal says stop, then returns normally.
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        },
      },
      {
        serviceName: 'Admin',
        log,
        isReady: () => true,
        shutdown: shutdown.signal,
        onCallEnd: (o) => ends.push(o.code),
      },
    );
    const call = Object.assign(new EventEmitter(), {
      request: { filters: [] },
      metadata: new Metadata(),
      sendMetadata: () => undefined,
      write: () => true,
      end: () => assert.fail('a stream cut by shutdown does not end with OK'),
    });
    const ended = new Promise<{ code?: number; details?: string }>((resolve) => call.on('error', resolve));
    (impl['subscribe'] as (c: unknown) => void)(call);
    shutdown.abort();
    const err = await ended;
    assert.equal(err.code, status.UNAVAILABLE);
    assert.equal(err.details, 'Subscribe: berthd is shutting down; reconnect');
    assert.deepEqual(ends, ['UNAVAILABLE']);
    // A stream opened after shutdown began ends at once the same way.
    const late = Object.assign(new EventEmitter(), { request: { filters: [] }, metadata: new Metadata() });
    const lateEnd = new Promise<{ code?: number }>((resolve) => late.on('error', resolve));
    (impl['subscribe'] as (c: unknown) => void)(late);
    assert.equal((await lateEnd).code, status.UNAVAILABLE);
  });

  it('reports the end of every call (service, method, code, duration) to onCallEnd', async () => {
    const ends: { service: string; method: string; code: string; durationMs: number }[] = [];
    let isReady = false;
    const impl = buildService(
      ImageServiceService,
      {
        listImages: async (_r: ListImagesRequest) => ({ images: [] }),
        removeImage: async () => {
          throw new BerthError('NOT_FOUND', 'no such image');
        },
      },
      { serviceName: 'ImageService', log, isReady: () => isReady, onCallEnd: (o) => ends.push({ ...o }) },
    );
    await invoke(impl['listImages'], {});
    isReady = true;
    await invoke(impl['listImages'], {});
    await invoke(impl['removeImage'], {});
    await invoke(impl['imageStatus'], {});
    assert.deepEqual(
      ends.map((e) => [e.service, e.method, e.code]),
      [
        ['ImageService', 'ListImages', 'UNAVAILABLE'],
        ['ImageService', 'ListImages', 'OK'],
        ['ImageService', 'RemoveImage', 'NOT_FOUND'],
        ['ImageService', 'ImageStatus', 'UNIMPLEMENTED'],
      ],
    );
    assert.ok(ends.every((e) => e.durationMs >= 0));
  });
});

describe('tolerantDefinition', () => {
  it('turns an undecodable request into a value the wrapper answers INVALID_ARGUMENT', async () => {
    const { tolerantDefinition } = await import('../../../src/cri/server.js');
    const { RuntimeServiceService } = await import('../../../src/api/gen/cri.js');
    const def = tolerantDefinition(RuntimeServiceService);
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // a length past the end
    assert.throws(() => RuntimeServiceService.version.requestDeserialize(garbage));
    const decoded = def.version.requestDeserialize(garbage) as object;
    assert.equal(typeof decoded, 'object');
    assert.equal(Object.getOwnPropertySymbols(decoded).length, 1);
    assert.deepEqual(def.version.requestDeserialize(Buffer.alloc(0)), { version: '' });
  });
});

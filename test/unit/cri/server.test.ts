// The instrumented wrapper, driven with fake grpc-js calls: readiness, UNIMPLEMENTED, error mapping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData, handleUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import { RuntimeServiceService } from '../../../src/api/gen/cri.js';
import type { VersionRequest } from '../../../src/api/gen/cri.js';
import { buildService, GRPC_STATUS } from '../../../src/cri/index.js';
import { BerthError } from '../../../src/base/errors.js';

const log = pino({ level: 'silent' });

interface Outcome {
  readonly err: { code?: number; details?: string } | null;
  readonly value: unknown;
}

function invoke(handler: unknown, request: unknown): Promise<Outcome> {
  const call = Object.assign(new EventEmitter(), { request }) as unknown as ServerUnaryCall<unknown, unknown>;
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
});

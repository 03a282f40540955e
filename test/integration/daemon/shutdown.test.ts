// SIGTERM and SIGINT: stop accepting, exit 0 within 10 s, remove the socket; open event streams (kubelet keeps
// one) end with UNAVAILABLE at once instead of holding shutdown for its grace period.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { access } from 'node:fs/promises';
import { integrationSkipReason, startBerthd, waitForExit } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';

const skip = integrationSkipReason();

describe('shutdown', { skip, timeout: 120_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} exits 0 within 10 s and removes the socket`, async (t) => {
      const berthd = await startBerthd();
      t.after(() => berthd.cleanup());
      const rt = berthd.runtime();
      await unary(rt.version.bind(rt), { version: 'v1' });
      berthd.process.kill(signal);
      const startedMs = Date.now();
      const code = await waitForExit(berthd.process, 10_000);
      assert.equal(code, 0, berthd.stderr());
      assert.ok(Date.now() - startedMs < 10_000);
      await assert.rejects(access(berthd.socketPath), { code: 'ENOENT' });
      assert.match(berthd.stderr(), /berthd stopped/);
    });
  }

  it('ends open event streams with UNAVAILABLE instead of waiting out the grace period', async (t) => {
    const berthd = await startBerthd();
    t.after(() => berthd.cleanup());
    const stream = berthd.runtime().getContainerEvents({});
    const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    stream.on('data', () => undefined);
    await once(stream, 'metadata'); // the stream is open on berthd's side
    berthd.process.kill('SIGTERM');
    const err = await ended;
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    assert.match(err.details, /GetContainerEvents: berthd is shutting down; reconnect/);
    assert.equal(await waitForExit(berthd.process, 10_000), 0, berthd.stderr());
    assert.doesNotMatch(berthd.stderr(), /still in flight after the grace period/);
  });
});

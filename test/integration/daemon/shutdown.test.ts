// SIGTERM and SIGINT: stop accepting, exit 0 within 10 s, remove the socket.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { integrationSkipReason, startBerthd, waitForExit } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';

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
});

// berthd --log-format text: readable lines for a daemon run in a terminal; JSON stays the default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';

const skip = integrationSkipReason();

describe('berthd --log-format', { skip, timeout: 60_000 }, () => {
  it('text: one "TIME LEVEL berthd: message key=value" line per entry, no JSON', async () => {
    const berthd = await startBerthd({ cni: 'empty', logLevel: 'info', extraArgs: ['--log-format', 'text'] });
    try {
      assert.equal(await berthd.stop(), 0);
      const lines = berthd.stderr().trimEnd().split('\n');
      const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`;
      const serving = lines.find((l) => l.includes('berthd is serving'));
      assert.match(serving ?? '', new RegExp(`^${time} INFO  berthd: berthd is serving .*socket=${berthd.socketPath}`));
      assert.ok(
        lines.some((l) => new RegExp(`^${time} INFO  berthd: shutting down signal=SIGTERM$`).test(l)),
        lines.join('\n'),
      );
      assert.ok(!lines.some((l) => l.startsWith('{')), 'no JSON line');
    } finally {
      await berthd.cleanup();
    }
  });

  it('json is the default', async () => {
    const berthd = await startBerthd({ cni: 'empty', logLevel: 'info' });
    try {
      assert.equal(await berthd.stop(), 0);
      for (const line of berthd.stderr().trimEnd().split('\n')) {
        assert.equal(typeof (JSON.parse(line) as { msg?: unknown }).msg, 'string', line);
      }
    } finally {
      await berthd.cleanup();
    }
  });
});

// berth plugins on a daemon with broken parts: a missing conmon, a runtime handler whose binary is missing and
// an unreadable CNI config each show as error with the reason; metrics off by default shows as disabled and
// serves nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';

const skip = integrationSkipReason();

interface PluginJson {
  readonly type: string;
  readonly id: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly details?: Record<string, string>;
}

describe('berth plugins with broken parts', { skip, timeout: 60_000 }, () => {
  let berthd: Berthd;
  before(async () => {
    berthd = await startBerthd({
      cni: 'broken',
      criToml: 'conmon_path = "/nonexistent/conmon"',
      extraToml: '[plugins.cri.containerd.runtimes.ghost]\nbinary = "/nonexistent/ghost-runtime"\n',
    });
  });
  after(async () => {
    await berthd?.cleanup();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args]);

  it('says which parts are not ready and why, and which are', () => {
    const table = berth('plugins');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^monitor\s+conmon\s+error\s+\/nonexistent\/conmon not found$/m);
    assert.match(table.stdout, /^runtime\s+ghost\s+error\s+\/nonexistent\/ghost-runtime not found$/m);
    assert.match(table.stdout, /^runtime\s+runc\s+ok\s+/m);
    assert.match(table.stdout, /^network\s+cni\s+error\s+network plugin is not ready: .*10-broken\.conflist/m);
    assert.match(table.stdout, /^metrics\s+prometheus\s+ok\s+disabled: \[metrics\] address is empty$/m);

    const { plugins } = JSON.parse(berth('plugins', '-o', 'json').stdout) as { plugins: PluginJson[] };
    const byId = new Map(plugins.map((p) => [`${p.type}/${p.id}`, p]));
    assert.equal(byId.get('monitor/conmon')?.ready, false);
    assert.equal(byId.get('monitor/conmon')?.details?.['path'], '/nonexistent/conmon');
    assert.equal(byId.get('runtime/runc')?.details?.['default'], 'true');
    assert.match(byId.get('runtime/runc')?.details?.['version'] ?? '', /^runc version /);
    assert.equal(byId.get('metrics/prometheus')?.details?.['enabled'], 'false');
    assert.equal(byId.get('network/cni')?.details?.['confDir'], berthd.cniConfDir);
  });
});

// berth runp / pods / inspectp / stopp / rmp against a real berthd (host-network pods: no CNI needed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';

const skip = integrationSkipReason();

describe('berth pod commands', { skip, timeout: 120_000 }, () => {
  let berthd: Berthd;
  let yamlPath: string;
  before(async () => {
    berthd = await startBerthd();
    yamlPath = join(berthd.dir, 'pod.yaml');
    await writeFile(
      yamlPath,
      [
        'metadata:',
        '  name: cli-pod',
        '  namespace: team',
        '  uid: cli-uid',
        'labels:',
        '  app: cli',
        'linux:',
        '  security_context:',
        '    namespace_options:',
        '      network: NODE',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await berthd?.cleanup();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args]);

  it('runs a pod from YAML, lists it, inspects it by prefix, stops and removes it', () => {
    const run = berth('runp', yamlPath);
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const table = berth('pods');
    assert.match(table.stdout, /^POD ID\s+CREATED\s+STATE\s+NAME\s+NAMESPACE\s+ATTEMPT\s+RUNTIME$/m);
    assert.match(table.stdout, new RegExp(`^${id.slice(0, 13)}\\s+.*\\s+Ready\\s+cli-pod\\s+team\\s+0\\s+runc$`, 'm'));
    assert.equal(berth('pods', '-q', '--label', 'app=cli').stdout.trim(), id);
    assert.equal(berth('pods', '-q', '--label', 'app=other').stdout.trim(), '');
    assert.equal(berth('pods', '-q', '--pod-namespace', 'team').stdout.trim(), id);
    const inspect = berth('inspectp', id.slice(0, 8));
    assert.equal(inspect.status, 0, inspect.stderr);
    const doc = JSON.parse(inspect.stdout) as { status: { id: string; state: string }; info: { config?: unknown } };
    assert.equal(doc.status.id, id);
    assert.equal(doc.status.state, 'SANDBOX_READY');
    assert.ok(doc.info.config !== undefined, 'verbose info carries the config');
    assert.match(berth('stopp', id.slice(0, 8)).stdout, /^Stopped sandbox /);
    assert.equal(berth('pods', '-q', '--state', 'notready').stdout.trim(), id);
    assert.equal(berth('rmp', '--all').status, 0);
    assert.equal(berth('pods', '-q').stdout.trim(), '');
  });

  it('names errors in one line: duplicate name, bad file, unknown pod', () => {
    assert.equal(berth('runp', yamlPath).status, 0);
    const dup = berth('runp', yamlPath);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /^berth: ALREADY_EXISTS: pod sandbox name "cli-pod_team_cli-uid_0" is reserved/);
    const missing = berth('inspectp', 'ffffffff');
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim(), 'berth: no such pod: ffffffff');
    const badFile = berth('runp', join(berthd.dir, 'nope.json'));
    assert.equal(badFile.status, 1);
    assert.match(badFile.stderr, /cannot read .*nope\.json: ENOENT/);
    assert.equal(berth('rmp', '--all').status, 0);
  });
});

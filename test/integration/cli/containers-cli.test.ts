// berth create / start / ps / exec / logs / inspect / stop / rm against a real berthd, registry, runc and conmon.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { BERTH_MAIN } from '../../harness/paths.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('berth container commands', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let podFile: string;
  let ctrFile: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    podFile = join(berthd.dir, 'pod.json');
    ctrFile = join(berthd.dir, 'ctr.yaml');
    await writeFile(
      podFile,
      JSON.stringify({
        metadata: { name: 'cli', namespace: 'default', uid: 'cli-uid' },
        log_directory: join(berthd.dir, 'logs'),
      }),
    );
    await writeFile(
      ctrFile,
      [
        'metadata:',
        '  name: talker',
        'image:',
        `  image: ${registry.host}/berth-test/busybox:latest`,
        'command: ["/bin/sh", "-c", "echo one; echo two >&2; sleep 0.3; echo three; sleep 1000"]',
        'log_path: talker.log',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args], {}, 60_000);

  it('creates, starts, lists, execs, shows logs, stops and removes a container', async () => {
    assert.equal(berth('pull', `${registry.host}/berth-test/busybox:latest`).status, 0);
    const pod = berth('runp', podFile).stdout.trim();
    // berth events follows the lifecycle while the rest of this test runs.
    const events = spawn(process.execPath, [BERTH_MAIN, '--address', berthd.address, 'events'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let eventText = '';
    events.stdout.setEncoding('utf8');
    events.stdout.on('data', (d: string) => (eventText += d));
    await new Promise((r) => setTimeout(r, 500));
    const created = berth('create', pod.slice(0, 10), ctrFile, podFile);
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    assert.equal(berth('ps', '-q').stdout.trim(), '', 'created is not running');
    assert.equal(berth('ps', '-a', '-q').stdout.trim(), id);
    assert.equal(berth('start', id.slice(0, 8)).status, 0);
    assert.match(
      berth('ps').stdout,
      new RegExp(`^${id.slice(0, 13)}\\s+\\S+busybox:latest\\s+.*Running\\s+talker\\s+0\\s+${pod.slice(0, 13)}$`, 'm'),
    );
    const exec = berth('exec', id.slice(0, 8), '--', '/bin/sh', '-c', 'echo from-exec; exit 4');
    assert.equal(exec.status, 4, 'the exit code passes through');
    assert.equal(exec.stdout, 'from-exec\n');
    let logs = berth('logs', id);
    for (let i = 0; i < 50 && !logs.stdout.includes('three'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      logs = berth('logs', id);
    }
    assert.equal(logs.stdout, 'one\nthree\n');
    assert.equal(logs.stderr, 'two\n');
    assert.equal(berth('logs', '--tail', '1', id).stdout, 'three\n');
    assert.match(berth('logs', '-t', '--tail', '1', id).stdout, /^\d{4}-\d\d-\d\dT\S+ three\n$/);
    const inspect = JSON.parse(berth('inspect', id).stdout) as { status: { state: string }; info: { pid: number } };
    assert.equal(inspect.status.state, 'CONTAINER_RUNNING');
    assert.ok(inspect.info.pid > 0);
    const stats = JSON.parse(berth('stats', '-o', 'json').stdout) as { stats: { attributes: { id: string } }[] };
    assert.deepEqual(
      stats.stats.map((s) => s.attributes.id),
      [id],
    );
    assert.match(
      berth('stats').stdout,
      new RegExp(`^${id.slice(0, 13)}\\s+talker\\s+[\\d.]+\\s+\\S+B\\s+\\S+B\\s+\\d+$`, 'm'),
    );
    assert.equal(berth('update', '--memory', '67108864', id.slice(0, 8)).status, 0);
    const updated = JSON.parse(berth('inspect', id).stdout) as {
      status: { resources: { linux: { memoryLimitInBytes: string } } };
    };
    assert.equal(updated.status.resources.linux.memoryLimitInBytes, '67108864');
    const refused = berth('rm', id);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /is running: stop it first, or use --force/);
    assert.equal(berth('ps', '--name', '^talk', '-q').stdout.trim(), id);
    assert.equal(berth('ps', '--name', '^nope', '-q').stdout.trim(), '');
    assert.equal(berth('ps', '--label', 'none=x', '-q').stdout.trim(), '');
    assert.equal(berth('ps', '--image', `${registry.host}/berth-test/busybox:latest`, '-q').stdout.trim(), id);
    assert.equal(berth('ps', '--latest', '-q').stdout.trim(), id);
    assert.equal(berth('stop', '-t', '0', id).status, 0);
    assert.match(berth('ps', '-a').stdout, /Exited\s+talker/);
    assert.equal(berth('rm', '--all').status, 0);
    assert.equal(berth('ps', '-a', '-q').stdout.trim(), '');
    for (let i = 0; i < 50 && !eventText.includes('container deleted'); i++)
      await new Promise((r) => setTimeout(r, 100));
    events.kill('SIGINT');
    for (const kind of ['created', 'started', 'stopped', 'deleted']) {
      assert.match(
        eventText,
        new RegExp(
          `^\\S+ container ${kind} id=${id.slice(0, 13)} name=talker pod=default/cli(?: exitCode=\\d+)? podId=${pod.slice(0, 13)} namespace=k8s\\.io$`,
          'm',
        ),
      );
    }
    const missing = berth('start', 'ffffffff');
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim(), 'berth: no such container: ffffffff');
    assert.equal(berth('rmp', '-a').status, 0);
  });
});

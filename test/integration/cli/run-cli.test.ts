// berth run (config files and IMAGE CMD) and berth stats --watch against a real berthd, registry, runc and conmon.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { startBerth, until } from '../../harness/berth-process.js';
import type { Running } from '../../harness/berth-process.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('berth run and stats --watch', { skip, timeout: 300_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let logRoot: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    image = `${registry.host}/berth-test/busybox:latest`;
    logRoot = join(berthd.dir, 'pods');
    assert.equal(berth('pull', image).status, 0);
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args], {}, 60_000);
  /** berth run IMAGE mode, with the pod logs in the test's dir rather than /var/log/pods. */
  const runImage = (args: readonly string[], env: Readonly<Record<string, string>> = {}): Running =>
    startBerth(['--address', berthd.address, 'run', '--log-root', logRoot, ...args], { env });
  const noPodsLeft = (): void => {
    assert.equal(berth('ps', '-a', '-q').stdout, '', 'no container left');
    assert.equal(berth('pods', '-q').stdout, '', 'no pod left');
  };

  it('runs CONTAINER_CONFIG POD_CONFIG: pulls, starts, prints the id; removes the pod when a step fails', async () => {
    const podFile = join(berthd.dir, 'pod.json');
    const ctrFile = join(berthd.dir, 'ctr.yaml');
    await writeFile(
      podFile,
      JSON.stringify({
        metadata: { name: 'runner', namespace: 'default', uid: 'runner-uid' },
        log_directory: join(berthd.dir, 'logs'),
      }),
    );
    const ctrYaml = (img: string): string =>
      [
        'metadata:',
        '  name: sleeper',
        'image:',
        `  image: ${img}`,
        'command: ["/bin/sh", "-c", "sleep 1000"]',
        'envs:',
        '  - key: GREETING',
        '    value: hello',
        'log_path: sleeper.log',
        '',
      ].join('\n');
    const userImage = `${registry.host}/berth-test/busybox-user:latest`;
    await writeFile(ctrFile, ctrYaml(userImage));
    assert.equal(berth('images', '-q', userImage).stdout, '', 'the image is not there yet: run pulls it');
    const run = berth('run', ctrFile, podFile);
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(berth('ps', '-q').stdout.trim(), id, 'running');
    const exec = berth('exec', id, '--', '/bin/sh', '-c', 'echo "$GREETING"');
    assert.equal(exec.stdout, 'hello\n', 'the env value is taken as written');
    assert.equal(berth('rmp', '--all').status, 0);
    const json = berth('run', '-o', 'json', ctrFile, podFile);
    assert.equal(json.status, 0, json.stderr);
    const ids = JSON.parse(json.stdout) as { podSandboxId: string; containerId: string };
    assert.equal(berth('pods', '-q').stdout.trim(), ids.podSandboxId);
    assert.equal(berth('ps', '-q').stdout.trim(), ids.containerId);
    assert.equal(berth('rmp', '--all').status, 0);

    await writeFile(ctrFile, ctrYaml(`${registry.host}/berth-test/missing:1`));
    const failed = berth('run', ctrFile, podFile);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /^berth: removed pod [0-9a-f]{13} after the failure$/m);
    assert.match(failed.stderr, /^berth: pull .*berth-test\/missing:1: /m);
    noPodsLeft();

    await writeFile(ctrFile, ctrYaml(`${registry.host}/berth-test/other:1`));
    const noPull = berth('run', '--no-pull', '-o', 'json', ctrFile, podFile);
    assert.equal(noPull.status, 1, 'not pulled, so CreateContainer fails');
    assert.match(noPull.stderr, /removed pod/);
    noPodsLeft();

    const mixed = berth('run', '--rm', ctrFile, podFile);
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /--rm: only for run IMAGE/);
  });

  it('runs IMAGE CMD: stdout to stdout, stderr to stderr, the exit code passed on; --rm leaves nothing', async () => {
    const res = await runImage(['--rm', image, 'sh', '-c', 'echo out; echo err >&2; exit 3']).done;
    assert.equal(res.stderr, 'err\n');
    assert.equal(res.stdout.toString(), 'out\n');
    assert.equal(res.status, 3);
    noPodsLeft();
    assert.deepEqual(await readdir(logRoot), [], 'the log directory went with the pod');

    const ls = await runImage(['--rm', '--net', 'host', image, 'ls', '-l', '/data']).done;
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout.toString(), /keep\.txt/, 'options after IMAGE belong to the command');

    const missing = await runImage(['--rm', image, '/no/such/command']).done;
    assert.equal(missing.status, 127, missing.stderr);
    noPodsLeft();
  });

  it('pulls a missing image, and runs its default command', async () => {
    const res = await runImage(['--rm', `${registry.host}/berth-test/other:2`]).done;
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.toString(), '2\n');
    assert.match(res.stderr, /^Unable to find image ".*berth-test\/other:2" locally, pulling it\n$/);
    noPodsLeft();
  });

  it('without --rm leaves the exited container and its pod, and prints only the output', async () => {
    const res = await runImage(['--name', 'kept', image, 'echo', 'hi']).done;
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.toString(), 'hi\n');
    assert.equal(res.stderr, '');
    const pods = berth('pods', '--name', 'kept', '--label', 'berth.run=true', '-q').stdout.trim();
    assert.match(pods, /^[0-9a-f]{64}$/);
    assert.match(berth('ps', '-a').stdout, /Exited\s+kept\s+0\s/);
    assert.equal(berth('logs', berth('ps', '-a', '-q').stdout.trim()).stdout, 'hi\n');
    assert.equal(berth('rmp', '--all').status, 0);
  });

  it('passes -e, -v, -w and --user to the container', async () => {
    const host = join(berthd.dir, 'shared');
    await mkdir(host);
    await writeFile(join(host, 'data.txt'), 'from-host\n');
    const script = [
      'echo "$A $B"',
      'cat /ro/data.txt',
      'touch /ro/x 2>/dev/null || echo read-only',
      'echo from-container > /rw/made.txt',
      'pwd',
    ].join('; ');
    const res = await runImage(
      [
        '--rm',
        '-e',
        'A=1',
        '-e',
        'B',
        '-v',
        `${host}:/ro:ro`,
        '-v',
        `${host}:/rw`,
        '-w',
        '/tmp',
        image,
        'sh',
        '-c',
        script,
      ],
      { B: 'two' },
    ).done;
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.toString(), '1 two\nfrom-host\nread-only\n/tmp\n');
    assert.equal(await readFile(join(host, 'made.txt'), 'utf8'), 'from-container\n');
    const user = await runImage(['--rm', '--user', '1000:1001', image, 'sh', '-c', 'id -u; id -g']).done;
    assert.equal(user.stdout.toString(), '1000\n1001\n', user.stderr);
    noPodsLeft();
  });

  it('streams a large output whole: many lines and one 3 MB line', async () => {
    const lines = 400_000;
    const longLine = 3_000_000;
    const res = await runImage([
      '--rm',
      image,
      'sh',
      '-c',
      `seq 1 ${lines}; head -c ${longLine} /dev/zero | tr '\\0' x; echo; echo end`,
    ]).done;
    assert.equal(res.status, 0, res.stderr);
    const expected = Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join('') + `${'x'.repeat(longLine)}\nend\n`;
    assert.equal(res.stdout.length, expected.length, 'no byte lost or added');
    assert.ok(res.stdout.equals(Buffer.from(expected)), 'same bytes');
    noPodsLeft();
  });

  it('Ctrl-C stops the container, cleans up with --rm and exits 130', async () => {
    const run = runImage(['--rm', image, 'sh', '-c', 'echo started; sleep 1000']);
    await until('the container to start', () => run.stdout().includes('started'));
    run.kill('SIGINT');
    const res = await run.done;
    assert.equal(res.status, 130, res.stderr);
    assert.equal(res.stdout.toString(), 'started\n');
    noPodsLeft();
  });

  it('a second Ctrl-C exits at once and names the pod left behind', async () => {
    const run = runImage(['--rm', image, 'sh', '-c', 'echo started; sleep 1000']);
    await until('the container to start', () => run.stdout().includes('started'));
    // sh is PID 1 and ignores SIGTERM: the stop waits its grace period, and the second Ctrl-C comes in it.
    run.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    run.kill('SIGINT');
    const res = await run.done;
    assert.equal(res.status, 130);
    const pod = /^berth: interrupted again; left pod ([0-9a-f]{64}) \(remove it with: berth rmp [0-9a-f]{13}\)$/m.exec(
      res.stderr,
    );
    assert.ok(pod, res.stderr);
    assert.equal(berth('pods', '-q').stdout.trim(), pod[1]);
    assert.equal(berth('rmp', '--all').status, 0);
  });

  it('a reader that goes away (| head) stops the container; --rm cleans up, exit 141', async () => {
    const run = runImage(['--rm', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do echo y; done']);
    await until('output', () => run.stdout().length > 0);
    run.closeStdout();
    const res = await run.done;
    assert.equal(res.status, 141, res.stderr);
    noPodsLeft();
  });

  it('stats --watch prints a block per tick until Ctrl-C, then exits 0', async () => {
    const run = runImage(['--name', 'watched', image, 'sh', '-c', 'echo up; sleep 1000']);
    await until('the container to start', () => run.stdout().includes('up'));
    const watch = startBerth(['--address', berthd.address, 'stats', '--watch', '--interval', '0.2']);
    const blocks = (): number => (watch.stdout().match(/^Every 0\.2s: \S+\n/gm) ?? []).length;
    await until('two blocks', () => blocks() >= 2);
    watch.kill('SIGINT');
    const res = await watch.done;
    assert.equal(res.status, 0, res.stderr);
    const text = res.stdout.toString();
    assert.ok(blocks() >= 2);
    assert.ok(!text.includes('\x1b'), 'no screen control when piped');
    for (const block of text.split(/^Every 0\.2s: .*\n/m).slice(1)) {
      assert.match(block, /^CONTAINER\s+NAME\s+CPU %\s+MEM\s+DISK\s+INODES\n[0-9a-f]{13}\s+watched\s/);
    }
    run.kill('SIGTERM');
    assert.equal((await run.done).status, 143);
    assert.match(berth('ps', '-a').stdout, /Exited\s+watched/, 'without --rm the container stays');
    assert.equal(berth('rmp', '--all').status, 0);
  });
});

// Container log rotation by berthd (pods without a kubelet): a container prints numbered lines fast while
// berthd rotates its log many times (max size 64Ki, checked every 200 ms, 4 files kept). `berth logs -f`,
// started before the first line, must print every number once and in order across the rotations; the files
// left on disk must be the kubelet's layout (newest rotated plain, older ones gzipped, at most 4 files) and
// hold an unbroken run of numbers up to the last one. A pod labelled as the kubelet's is left alone ("auto").
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ContainerConfig, PodSandboxConfig } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { BERTH_MAIN } from '../../harness/paths.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import { waitFor as waitForValue } from '../../harness/wait.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const MAX_FILES = 4;
const ROTATIONS_WANTED = MAX_FILES + 3; // enough for old files to have been deleted

/** Rotation runs on its monitor interval: allow longer than the harness default. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  waitForValue(what, fn, timeoutMs);

/** The text lines of a CRI log file, partial (P) records joined per stream as the kubelet joins them. */
function criLines(text: string): string[] {
  const out: string[] = [];
  const open = new Map<string, string>();
  for (const record of text.split('\n')) {
    if (record === '') continue;
    const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/.exec(record);
    assert.ok(m, `a CRI log record: ${JSON.stringify(record.slice(0, 80))}`);
    const [, stream = '', tag, body = ''] = m;
    const joined = (open.get(stream) ?? '') + body;
    if (tag === 'P') open.set(stream, joined);
    else {
      open.delete(stream);
      out.push(joined);
    }
  }
  return out;
}

/** Asserts lines are "line k", "line k+1", ... and returns [k, last]. */
function assertRun(lines: readonly string[], what: string): [number, number] {
  const numbers = lines.map((l) => {
    const m = /^line (\d+)$/.exec(l);
    assert.ok(m, `${what}: unexpected line ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
  assert.ok(numbers.length > 0, `${what}: no numbered lines`);
  numbers.forEach((n, i) => {
    if (n !== numbers[0]! + i) assert.fail(`${what}: line ${numbers[0]! + i} expected at position ${i}, got ${n}`);
  });
  return [numbers[0]!, numbers.at(-1)!];
}

describe('container log rotation', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let logDir: string;
  const pods: string[] = [];
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd({
      criToml: [
        'container_log_max_size = "64Ki"',
        `container_log_max_files = ${MAX_FILES}`,
        'container_log_monitor_interval = "200ms"',
      ].join('\n'),
    });
    image = `${registry.host}/berth-test/busybox:latest`;
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    logDir = join(berthd.dir, 'pod-logs');
  });
  after(async () => {
    const rt = berthd?.runtime();
    for (const podSandboxId of pods) {
      await unary(rt.removePodSandbox.bind(rt), { podSandboxId }, 60_000).catch(() => undefined);
    }
    await berthd?.cleanup();
    await registry?.stop();
  });

  const rt = () => berthd.runtime();
  const runPod = async (name: string, labels: Record<string, string>) => {
    const config = PodSandboxConfig.fromJSON({
      metadata: { name, namespace: 'test', uid: `${name}-uid`, attempt: 0 },
      hostname: name,
      logDirectory: join(logDir, name),
      labels,
    });
    const id = (await unary(rt().runPodSandbox.bind(rt()), { config, runtimeHandler: '' }, 30_000)).podSandboxId;
    pods.push(id);
    return id;
  };
  const runContainer = async (podSandboxId: string, name: string, script: string) => {
    const { containerId } = await unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId,
        config: ContainerConfig.fromJSON({
          metadata: { name },
          image: { image },
          command: ['/bin/sh', '-c', script],
          logPath: `${name}.log`,
        }),
        sandboxConfig: undefined,
      },
      60_000,
    );
    await unary(rt().startContainer.bind(rt()), { containerId }, 30_000);
    return containerId;
  };
  const rotationsOf = (id: string) =>
    berthd
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"container log rotated"') && l.includes(id)).length;

  it('rotates a busy log without losing a line, and berth logs -f follows it', async () => {
    // A kubelet pod writes past the max size too: "auto" must leave it to the kubelet.
    const kubeletPod = await runPod('kubelet-pod', { 'io.kubernetes.pod.uid': 'kubelet-pod-uid' });
    await runContainer(
      kubeletPod,
      'quiet',
      'i=0; while [ $i -lt 4000 ]; do i=$((i+1)); echo "kubelet line $i"; done; sleep 1000',
    );

    const cliPod = await runPod('cli-pod', {});
    // Prints "ready", waits for /tmp/go (so the follower is attached before the first number), then numbered
    // lines as fast as the shell goes, with a tiny pause every 500 lines to keep the volume reasonable.
    const id = await runContainer(
      cliPod,
      'writer',
      'echo ready; until [ -e /tmp/go ]; do sleep 0.1; done; i=0; ' +
        'while :; do i=$((i+1)); echo "line $i"; [ $((i % 500)) -eq 0 ] && sleep 0.02; done',
    );
    const logPath = join(logDir, 'cli-pod', 'writer.log');

    const follower = spawn(process.execPath, [BERTH_MAIN, '--address', berthd.address, 'logs', '-f', id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    let followErr = '';
    follower.stdout.setEncoding('utf8');
    follower.stdout.on('data', (d: string) => (followed += d));
    follower.stderr.setEncoding('utf8');
    follower.stderr.on('data', (d: string) => (followErr += d));
    const followerExit = new Promise<number | null>((resolve) => follower.once('exit', resolve));
    try {
      await waitFor('the follower to print "ready"', async () => (followed.startsWith('ready\n') ? true : undefined));
      await unary(rt().execSync.bind(rt()), { containerId: id, cmd: ['touch', '/tmp/go'], timeout: 10n }, 30_000);

      await waitFor(
        `${ROTATIONS_WANTED} rotations`,
        async () => (rotationsOf(id) >= ROTATIONS_WANTED ? true : undefined),
        60_000,
      );
      await unary(rt().stopContainer.bind(rt()), { containerId: id, timeout: 0n }, 30_000);
      const code = await Promise.race([
        followerExit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('berth logs -f did not end')), 20_000)),
      ]);
      assert.equal(code, 0, followErr);
    } finally {
      follower.kill();
    }

    // The follower saw every number once, in order, across all the rotations.
    const followedLines = followed.split('\n').filter((l) => l !== '');
    assert.equal(followedLines[0], 'ready');
    const [first, last] = assertRun(followedLines.slice(1), 'berth logs -f');
    assert.equal(first, 1);

    // On disk: the kubelet's layout, at most MAX_FILES files, and an unbroken run ending at the last number.
    const names = (await readdir(join(logDir, 'cli-pod'))).filter((n) => n.startsWith('writer.log')).sort();
    const rotated = names.filter((n) => n !== 'writer.log');
    assert.ok(names.includes('writer.log'), `the live log exists: ${names.join(' ')}`);
    assert.ok(names.length <= MAX_FILES, `at most ${MAX_FILES} files: ${names.join(' ')}`);
    assert.equal(rotated.length, MAX_FILES - 1, `rotated files: ${names.join(' ')}`);
    rotated.forEach((n, i) => {
      const isNewest = i === rotated.length - 1;
      assert.match(n, isNewest ? /^writer\.log\.\d{8}-\d{6}$/ : /^writer\.log\.\d{8}-\d{6}\.gz$/, n);
    });
    const texts = await Promise.all(
      [...rotated, 'writer.log'].map(async (n) => {
        const bytes = await readFile(join(logDir, 'cli-pod', n));
        return (n.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      }),
    );
    const onDisk = texts.flatMap(criLines).filter((l) => l !== 'ready');
    const [firstKept, lastKept] = assertRun(onDisk, 'files on disk');
    assert.equal(lastKept, last, 'the files end where the follower ended');
    assert.ok(firstKept > 1, 'the oldest files were deleted');
    assert.ok(rotationsOf(id) >= ROTATIONS_WANTED);
    assert.ok((await stat(logPath)).isFile());

    // The kubelet's pod: over the max size, never rotated by berthd.
    const quiet = join(logDir, 'kubelet-pod', 'quiet.log');
    assert.ok((await stat(quiet)).size > 64 * 1024, 'the kubelet pod log is past the max size');
    assert.deepEqual(
      (await readdir(join(logDir, 'kubelet-pod'))).filter((n) => n.startsWith('quiet.log')),
      ['quiet.log'],
    );
  });
});

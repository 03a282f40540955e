// berth content / snapshots / events / plugins and the metrics endpoint against a real berthd, registry, runc
// and conmon: listings with who uses what, the refusals (a blob or layer an image needs, a container's own
// snapshot, a layer under another), removal of what nothing uses, events of every kind with filters, and a
// Prometheus scrape whose counters and gauges follow the calls.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { BERTH_MAIN } from '../../harness/paths.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** A `berth events ...` process whose stdout the test reads. */
class Follower {
  private out = '';
  private readonly proc: ChildProcess;
  constructor(address: string, args: readonly string[]) {
    this.proc = spawn(process.execPath, [BERTH_MAIN, '--address', address, 'events', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => (this.out += d));
  }
  get text(): string {
    return this.out;
  }
  lines(): string[] {
    return this.out.split('\n').filter((l) => l !== '');
  }
  /**
   * Repeats an action the filter lets through until its event arrives: then the subscription is live (no
   * sleep-and-hope before the events under test).
   */
  async prime(act: (attempt: number) => void, seen: (attempt: number) => RegExp): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      act(attempt);
      for (let i = 0; i < 20; i++) {
        if (seen(attempt).test(this.out)) return;
        await sleep(50);
      }
    }
    throw new Error(`berth events never showed the priming event; output:\n${this.out}`);
  }
  stop(): void {
    this.proc.kill('SIGINT');
  }
}

interface JsonEvent {
  readonly time: string;
  readonly namespace: string;
  readonly topic: string;
  readonly type: string;
  readonly action: string;
  readonly fields: Record<string, string | number>;
}

/**
 * One GET on a fresh connection: runBerth blocks this process's event loop, so a kept-alive socket the server
 * closed meanwhile would still look open to fetch.
 */
function httpGet(url: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The value of one series in Prometheus text ("name{labels} value"), undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('berth content, snapshots, events, plugins and metrics', { skip, timeout: 240_000 }, () => {
  let registry: Registry;
  let images: TestImages;
  let berthd: Berthd;
  let all: Follower;
  let teamOnly: Follower;
  let metricsUrl: string;
  let podFile: string;
  let ctrFile: string;
  let image: string;
  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
    berthd = await startBerthd({ extraToml: '[metrics]\naddress = "127.0.0.1:0"\n' });
    image = `${registry.host}/berth-test/busybox:latest`;
    podFile = join(berthd.dir, 'pod.json');
    ctrFile = join(berthd.dir, 'ctr.yaml');
    await writeFile(podFile, JSON.stringify({ metadata: { name: 'admin', namespace: 'default', uid: 'admin-uid' } }));
    await writeFile(
      ctrFile,
      ['metadata:', '  name: sleeper', 'image:', `  image: ${image}`, 'command: ["/bin/sleep", "1000"]', ''].join('\n'),
    );
    all = new Follower(berthd.address, ['-o', 'json']);
    await all.prime(
      (i) => berth('namespaces', 'create', `probe-${i}`),
      (i) => new RegExp(`"namespace":"probe-${i}","topic":"/namespace/created"`),
    );
    teamOnly = new Follower(berthd.address, ['--type', 'namespace', '--namespace', 'team-x']);
    await teamOnly.prime(
      () => {
        berth('namespaces', 'rm', 'team-x');
        berth('namespaces', 'create', 'team-x');
      },
      () => /namespace created name=team-x$/m,
    );
    const plugins = JSON.parse(berth('plugins', '-o', 'json').stdout) as {
      plugins: { type: string; details: Record<string, string> }[];
    };
    metricsUrl = plugins.plugins.find((p) => p.type === 'metrics')!.details['url']!;
  });
  after(async () => {
    all?.stop();
    teamOnly?.stop();
    if (berthd !== undefined) {
      runBerth(['--address', berthd.address, 'rmp', '--all']);
      await berthd.cleanup();
    }
    await registry?.stop();
  });
  function berth(...args: string[]) {
    return runBerth(['--address', berthd.address, ...args], {}, 60_000);
  }
  const scrape = async (): Promise<string> => {
    const res = await httpGet(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^text\/plain/);
    return res.body;
  };

  it('plugins: every part ready here, with what was found', () => {
    const res = berth('plugins');
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^TYPE\s+ID\s+STATUS\s+REASON$/m);
    assert.match(res.stdout, /^runtime\s+runc\s+ok\s+\/usr\/sbin\/runc: runc version \S+$/m);
    assert.match(res.stdout, /^monitor\s+conmon\s+ok\s+\/usr\/bin\/conmon: conmon version \S+$/m);
    assert.match(res.stdout, /^network\s+cni\s+ok\s+\S+\.conflist \(network "[^"]+"\): loopback, bridge/m);
    assert.match(res.stdout, /^snapshotter\s+overlayfs\s+ok\s+/m);
    assert.match(res.stdout, /^cgroups\s+cgroups\s+ok\s+cgroup (v1|v2|hybrid)\b.*driver cgroupfs$/m);
    assert.match(
      res.stdout,
      /^streaming\s+stream-server\s+ok\s+exec, attach and port-forward at http:\/\/127\.0\.0\.1:\d+$/m,
    );
    assert.match(res.stdout, /^metrics\s+prometheus\s+ok\s+serving http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
  });

  it('content: lists blobs with the images that need them, streams one, refuses what an image needs', async () => {
    const before = await scrape();
    const pulled = berth('pull', image);
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.equal(berth('tag', image, 'example.test/box:v1').status, 0);

    const after = await scrape();
    const layerBytes = images.busybox.layers.reduce((n, l) => n + l.size, 0);
    assert.equal(sample(after, 'berth_image_pull_bytes_total'), layerBytes, 'every layer was downloaded once');
    assert.equal(sample(after, 'berth_image_pull_duration_seconds_count'), 1);
    const pulls = 'berth_grpc_requests_total{service="Admin",method="PullImage",code="OK"}';
    assert.equal((sample(after, pulls) ?? 0) - (sample(before, pulls) ?? 0), 1);

    const ls = JSON.parse(berth('content', 'ls', '-o', 'json').stdout) as {
      content: { digest: string; size: string; references?: { namespace: string; image: string; role: string }[] }[];
    };
    const roleOf = (digest: string) =>
      new Set(ls.content.find((c) => c.digest === digest)?.references?.map((r) => `${r.namespace} ${r.role}`));
    assert.deepEqual(roleOf(images.busybox.configDigest), new Set(['k8s.io config']));
    assert.deepEqual(roleOf(images.busybox.manifestDigest), new Set(['k8s.io manifest']));
    for (const layer of images.busybox.layers) assert.deepEqual(roleOf(layer.digest), new Set(['k8s.io layer']));
    const table = berth('content', 'ls');
    assert.match(table.stdout, /^DIGEST\s+SIZE\s+AGE\s+USED BY$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${images.busybox.configDigest}\\s+\\S+B\\s+.+ago\\s+k8s\\.io/\\S+ \\(config\\) \\+2$`, 'm'),
      'three names: two tags and the digest name',
    );

    const got = berth('content', 'get', images.busybox.configDigest);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(`sha256:${createHash('sha256').update(got.stdout).digest('hex')}`, images.busybox.configDigest);
    const layer = images.busybox.layers[0]!;
    const file = join(berthd.dir, 'layer.tgz');
    assert.equal(berth('content', 'get', '-o', file, layer.digest.slice(7)).status, 0, 'bare hex is accepted');
    assert.equal(
      `sha256:${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')}`,
      layer.digest,
    );

    const refused = berth('content', 'rm', layer.digest);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^berth: FAILED_PRECONDITION: content ${layer.digest} is the layer of image ".+" in namespace k8s\\.io.*: remove the image first$`,
        'm',
      ),
    );
    const missing = berth('content', 'rm', `sha256:${'0'.repeat(64)}`);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^berth: NOT_FOUND: content sha256:0{64} not found$/m);
    const bad = berth('content', 'get', 'nonsense');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^berth: INVALID_ARGUMENT: /m);

    // A blob nothing refers to (as a crash can leave one): listed as unused, then removed.
    const bytes = randomBytes(1000);
    const orphan = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(berthd.root, 'content', 'blobs', 'sha256', orphan.slice(7)), bytes, { mode: 0o400 });
    assert.match(berth('content', 'ls').stdout, new RegExp(`^${orphan}\\s+1\\.00kB\\s+.+ago\\s+-$`, 'm'));
    const removed = berth('content', 'rm', orphan);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(removed.stdout, `${orphan}\n`);
    assert.ok(!berth('content', 'ls', '-q').stdout.includes(orphan));
  });

  it('snapshots: layers with their images, a container with its own, every refusal, then removal', async () => {
    const pod = berth('runp', podFile).stdout.trim();
    assert.match(pod, /^[0-9a-f]{64}$/);
    const created = berth('create', pod, ctrFile, podFile);
    assert.equal(created.status, 0, created.stderr);
    const ctr = created.stdout.trim();
    const runningBefore = sample(await scrape(), 'berth_containers{state="running"}');
    assert.equal(berth('start', ctr).status, 0);
    const m = await scrape();
    assert.equal(runningBefore, 0);
    assert.equal(sample(m, 'berth_containers{state="running"}'), 1);
    assert.equal(sample(m, 'berth_pods{state="ready"}'), 1);

    type Snap = { key: string; parent?: string; kind: string; images?: string[]; container?: string };
    const list = () => (JSON.parse(berth('snapshots', 'ls', '-o', 'json').stdout) as { snapshots: Snap[] }).snapshots;
    const snaps = list();
    const layers = snaps.filter((s) => s.kind === 'committed');
    assert.equal(layers.length, images.busybox.layers.length);
    for (const l of layers) assert.ok(l.images?.includes(`k8s.io/${image}`), `layer ${l.key} lists its image`);
    const bottom = layers.find((l) => (l.parent ?? '') === '')!;
    const middle = layers.find((l) => l.parent === bottom.key)!;
    const top = layers.find((l) => l.parent === middle.key)!;
    const active = snaps.find((s) => s.kind === 'active')!;
    assert.equal(active.key, ctr);
    assert.equal(active.parent, top.key);
    assert.equal(active.container, 'k8s.io/sleeper');
    assert.match(
      berth('snapshots', 'ls').stdout,
      new RegExp(
        `^${ctr.slice(0, 13)}\\s+active\\s+${top.key.slice(0, 19)}\\s+.+ago\\s+container k8s\\.io/sleeper$`,
        'm',
      ),
    );

    const usage = JSON.parse(berth('snapshots', 'usage', bottom.key.slice(7, 20), '-o', 'json').stdout) as {
      snapshots: { key: string; sizeBytes: string; inodes: string }[];
    };
    assert.equal(usage.snapshots.length, 1);
    assert.equal(usage.snapshots[0]!.key, bottom.key);
    assert.ok(Number(usage.snapshots[0]!.sizeBytes) > 0 && Number(usage.snapshots[0]!.inodes) > 1);
    assert.match(berth('snapshots', 'usage').stdout, /^total\s+\S+B\s+\d+$/m);

    const own = berth('snapshots', 'rm', ctr.slice(0, 13));
    assert.equal(own.status, 1);
    assert.match(
      own.stderr,
      /FAILED_PRECONDITION: snapshot "[0-9a-f]{64}" is the root filesystem of container "sleeper" in namespace k8s\.io: remove the container instead/,
    );
    const ofImage = berth('snapshots', 'rm', top.key);
    assert.equal(ofImage.status, 1);
    assert.match(
      ofImage.stderr,
      /FAILED_PRECONDITION: layer sha256:\S+ is a layer of image "k8s\.io\/.+": remove the image first/,
    );

    // The image goes; its layers stay under the container (image GC leaves them) and no longer list it.
    assert.equal(berth('rmi', image).status, 0);
    assert.equal(berth('rmi', 'example.test/box:v1').status, 0);
    assert.deepEqual(
      list()
        .filter((s) => s.kind === 'committed')
        .map((s) => s.images ?? []),
      [[], [], []],
    );
    const underChild = berth('snapshots', 'rm', bottom.key);
    assert.equal(underChild.status, 1);
    assert.match(underChild.stderr, /FAILED_PRECONDITION: layer sha256:\S+ has a child layer/);
    const underContainer = berth('snapshots', 'rm', top.key);
    assert.equal(underContainer.status, 1);
    assert.match(underContainer.stderr, /FAILED_PRECONDITION: layer sha256:\S+ is used by active snapshot/);

    assert.equal(berth('stop', '-t', '0', ctr).status, 0);
    assert.equal(berth('rm', ctr).status, 0);
    assert.equal(sample(await scrape(), 'berth_containers{state="running"}'), 0);
    const removed = berth('snapshots', 'rm', top.key, middle.key, bottom.key);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(removed.stdout, `${top.key}\n${middle.key}\n${bottom.key}\n`);
    assert.deepEqual(list(), []);
    const gone = berth('snapshots', 'rm', 'sha256:ffff');
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /^berth: no such snapshot: sha256:ffff$/m);
    assert.equal(berth('stopp', pod).status, 0);
    assert.equal(berth('rmp', pod).status, 0);
    assert.equal(sample(await scrape(), 'berth_pods{state="ready"}'), 0);
  });

  it('events: every kind in JSON lines; --type and --namespace select', async () => {
    assert.equal(berth('namespaces', 'create', 'other-ns').status, 0);
    assert.equal(berth('namespaces', 'rm', 'other-ns').status, 0);
    assert.equal(berth('namespaces', 'rm', 'team-x').status, 0);
    await waitUntil('the last events', () => all.text.includes('"namespace":"team-x","topic":"/namespace/removed"'));
    await waitUntil('team-x removed', () => /namespace removed name=team-x$/m.test(teamOnly.text));
    const events = all.lines().map((l) => JSON.parse(l) as JsonEvent);
    const topics = new Set(events.map((e) => e.topic));
    for (const topic of [
      '/image/pulled',
      '/image/tagged',
      '/image/removed',
      '/pod/created',
      '/pod/stopped',
      '/pod/removed',
      '/container/created',
      '/container/started',
      '/container/stopped',
      '/container/deleted',
      '/namespace/created',
      '/namespace/removed',
      '/content/removed',
      '/snapshot/removed',
    ]) {
      assert.ok(topics.has(topic), `saw ${topic}`);
    }
    const pulledEvent = events.find((e) => e.topic === '/image/pulled')!;
    assert.equal(pulledEvent.namespace, 'k8s.io');
    assert.equal(pulledEvent.fields['id'], images.busybox.configDigest);
    assert.equal(pulledEvent.fields['name'], image);
    const stopped = events.find((e) => e.topic === '/container/stopped')!;
    assert.equal(stopped.fields['name'], 'sleeper');
    assert.equal(stopped.fields['pod'], 'default/admin');
    assert.equal(stopped.fields['exitCode'], 137);
    assert.equal(events.filter((e) => e.topic === '/snapshot/removed').length, 3);
    assert.equal(events.find((e) => e.topic === '/content/removed')?.namespace, '');

    // Only namespace events of team-x: no image, pod or container events, nothing of other-ns.
    const lines = teamOnly.lines();
    assert.ok(lines.length >= 2);
    for (const line of lines) {
      assert.match(line, /^\d{4}-\d\d-\d\dT\S+Z namespace (created|removed) name=team-x$/);
    }

    // The text form of the stream that follows everything (a fresh one: its output starts now).
    const text = new Follower(berthd.address, []);
    try {
      await text.prime(
        (i) => berth('namespaces', 'create', `probe-text-${i}`),
        (i) => new RegExp(`namespace created name=probe-text-${i}$`, 'm'),
      );
      assert.equal(berth('pull', image).status, 0);
      await waitUntil('image pulled line', () => / image pulled /.test(text.text));
      assert.match(
        text.text,
        new RegExp(
          `^\\S+Z image pulled id=${images.busybox.configDigest} name=\\S+ bytes=\\d+ durationMs=[\\d.]+ namespace=k8s\\.io$`,
          'm',
        ),
      );
    } finally {
      text.stop();
    }
  });

  it('metrics: counts per method and code, latency histograms, process metrics; only /metrics is served', async () => {
    const series = 'berth_grpc_requests_total{service="Admin",method="ListContent",code="OK"}';
    const before = sample(await scrape(), series) ?? 0;
    assert.equal(berth('content', 'ls').status, 0);
    assert.equal(berth('content', 'ls', '-q').status, 0);
    const text = await scrape();
    assert.equal(sample(text, series), before + 2);
    assert.ok(
      (sample(text, 'berth_grpc_requests_total{service="Admin",method="DeleteContent",code="NOT_FOUND"}') ?? 0) >= 1,
    );
    assert.ok(
      (sample(text, 'berth_grpc_requests_total{service="RuntimeService",method="StartContainer",code="OK"}') ?? 0) >= 1,
    );
    assert.match(
      text,
      /^berth_grpc_request_duration_seconds_bucket\{le="0\.005",service="Admin",method="ListContent"\} \d+$/m,
    );
    assert.match(text, /^berth_grpc_request_duration_seconds_count\{service="Admin",method="ListContent"\} \d+$/m);
    assert.match(text, /^# TYPE berth_grpc_request_duration_seconds histogram$/m);
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
    const other = await httpGet(metricsUrl.replace(/\/metrics$/, '/other'));
    assert.equal(other.status, 404);
  });
});

// Hostile input over the real socket (issue #7): random bytes as every request of every unary RPC, then
// structured requests with huge strings, deep label maps, absurd numbers and path traversal in names, log paths
// and mounts. berthd must keep answering, refuse with INVALID_ARGUMENT (or NOT_FOUND for unknown ids) and a
// message, never write outside its dirs, and leave nothing behind. Bounded in time; the seed is printed so a
// failure can be replayed (BERTH_FUZZ_SEED).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import type { ServiceDefinition, ServiceError } from '@grpc/grpc-js';
import { AdminService } from '../../../src/api/gen/admin.js';
import {
  ContainerConfig,
  ImageServiceService,
  PodSandboxConfig,
  RuntimeServiceService,
} from '../../../src/api/gen/cri.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const SEED = Number(process.env['BERTH_FUZZ_SEED'] ?? Date.now() % 1_000_000);
/** Codes a hostile request may get: never UNKNOWN or INTERNAL (a bug), never OK for the structured ones. */
const REFUSALS = new Set([status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.OUT_OF_RANGE]);

/** mulberry32: small, seeded, good enough to pick inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('hostile CRI input', { skip, timeout: 240_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let raw: Client;
  const random = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const canary = `/tmp/berth-fuzz-canary-${SEED}`;

  before(async () => {
    console.log(`fuzz seed ${SEED} (replay with BERTH_FUZZ_SEED=${SEED})`);
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    image = `${registry.host}/berth-test/busybox:latest`;
    const img = berthd.image();
    await unary(
      img.pullImage.bind(img),
      {
        image: { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' },
        auth: undefined,
        sandboxConfig: undefined,
      },
      60_000,
    );
    raw = new Client(berthd.address, credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
  });
  after(async () => {
    raw?.close();
    await berthd?.cleanup();
    await registry?.stop();
  });

  const alive = async (): Promise<void> => {
    const rt = berthd.runtime();
    const v = await unary(rt.version.bind(rt), { version: 'v1' });
    assert.equal(v.runtimeName, 'berth');
    assert.equal(berthd.process.exitCode, null, 'berthd exited');
  };

  const rawCall = (path: string, body: Buffer): Promise<ServiceError | undefined> =>
    new Promise((resolve) => {
      raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (err) => resolve(err ?? undefined),
      );
    });

  it('survives random bytes as every unary request', async () => {
    const defs: ServiceDefinition[] = [RuntimeServiceService, ImageServiceService, AdminService];
    const paths = defs.flatMap((d) =>
      Object.values(d)
        .filter((m) => !m.requestStream && !m.responseStream)
        .map((m) => m.path),
    );
    // Mutating RPCs with random bytes would mostly decode to empty requests; a few decode to real ones
    // (e.g. an empty RemoveImage) and those must be harmless too.
    const deadline = Date.now() + 20_000;
    let calls = 0;
    const codes = new Map<number, number>();
    const accepted = new Set<string>();
    while (Date.now() < deadline) {
      const path = pick(paths);
      const len = pick([0, 1, 2, 7, 64, 1024, 65_536]);
      const body = Buffer.alloc(len);
      for (let i = 0; i < len; i++) body[i] = Math.floor(random() * 256);
      const err = await rawCall(path, body);
      calls++;
      const code = err?.code ?? status.OK;
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code === status.OK) accepted.add(path.slice(path.lastIndexOf('/') + 1));
      if (err !== undefined) {
        assert.notEqual(err.code, status.UNKNOWN, `${path}: ${err.details}`);
        assert.ok(err.details.length > 0, `${path}: error without a message`);
      }
    }
    console.log(`random-bytes calls: ${calls}, codes: ${JSON.stringify(Object.fromEntries(codes))}`);
    console.log(`accepted: ${[...accepted].sort().join(' ')}`);
    assert.equal(codes.get(status.INTERNAL), undefined, 'a malformed request was answered INTERNAL');
    assert.ok(calls > 100);
    await alive();
  });

  const hostileStrings = (): string[] => [
    '',
    '../../../..' + canary,
    canary,
    'a/b',
    '..',
    '.',
    'x'.repeat(64 * 1024),
    'name\0with-nul',
    'é'.repeat(300),
    '$(touch ' + canary + ')',
    '%2e%2e/%2e%2e',
    'UPPER_case',
    '-leading-dash',
  ];
  const hostileNumbers = [-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];

  const hostileInt32 = [-1, 0, 1, 65_536, 2 ** 31 - 1, -(2 ** 31)];
  const hostileUint32 = [0, 1, 2 ** 32 - 1];

  it('refuses hostile pod configs and leaves nothing behind', async () => {
    const rt = berthd.runtime();
    const before = await readdir(join(berthd.state, 'sandboxes')).catch(() => []);
    let accepted = 0;
    for (let round = 0; round < 60; round++) {
      const labels: Record<string, string> = {};
      const labelCount = pick([0, 1, 5000]);
      for (let i = 0; i < labelCount; i++)
        labels[`k${i}-${pick(hostileStrings()).slice(0, 40)}`] = pick(hostileStrings()).slice(0, 100);
      const hostile: Record<string, unknown> = {
        metadata: {
          name: pick(hostileStrings()),
          namespace: pick(hostileStrings()),
          uid: pick(hostileStrings()),
          attempt: pick(hostileUint32),
        },
        hostname: pick(hostileStrings()),
        logDirectory: pick(['../logs', canary, `${berthd.dir}/../../${canary}`, 'relative/dir', '']),
        labels,
        linux: {
          cgroupParent: pick(['../../escape', '/kubepods/../../../', 'relative', '']),
          sysctls: pick([
            {},
            { 'kernel.shm_rmid_forced': '1' },
            { 'net.ipv4.ip_forward': '1; rm -rf /' },
            { '../../proc/sys': '1' },
          ]),
          securityContext: { namespaceOptions: { network: pick([0, 1, 2, 3, 99]), pid: pick([0, 1, 2, 3, 99]) } },
        },
        dnsConfig: {
          servers: [pick(hostileStrings()).slice(0, 200)],
          searches: [pick(hostileStrings()).slice(0, 300)],
          options: [],
        },
        portMappings: [
          {
            protocol: pick([0, 1, 2, 7]),
            containerPort: pick(hostileInt32),
            hostPort: pick(hostileInt32),
            hostIp: pick(hostileStrings()).slice(0, 50),
          },
        ],
      };
      // Half the rounds: a valid pod with one hostile field, so refusals deep in RunPodSandbox (after
      // namespaces, network, files) are reached and must unwind.
      const valid: Record<string, unknown> = {
        metadata: { name: `ok-${round}`, namespace: 'fuzz', uid: `uid-${round}`, attempt: 0 },
        logDirectory: join(berthd.dir, 'fuzz-pod-logs'),
      };
      const field = pick(Object.keys(hostile));
      const config = PodSandboxConfig.fromJSON(random() < 0.5 ? hostile : { ...valid, [field]: hostile[field] });
      try {
        const res = await unary(
          rt.runPodSandbox.bind(rt),
          { config, runtimeHandler: pick(['', '', 'runc', '../runc', 'nope']) },
          30_000,
        );
        // Accepted: it must be a real, removable pod.
        await unary(rt.removePodSandbox.bind(rt), { podSandboxId: res.podSandboxId }, 30_000);
        accepted++;
      } catch (err) {
        const e = err as ServiceError;
        assert.ok(
          REFUSALS.has(e.code),
          `RunPodSandbox answered ${e.code} ${e.details}\nfor ${JSON.stringify(PodSandboxConfig.toJSON(config)).slice(0, 3000)}`,
        );
        assert.ok(e.details.length > 0);
      }
    }
    console.log(`pod configs: ${accepted} accepted, ${60 - accepted} refused`);
    await alive();
    assert.equal(existsSync(canary), false, "a hostile path reached outside berthd's dirs");
    const after = await readdir(join(berthd.state, 'sandboxes')).catch(() => []);
    assert.deepEqual(after.sort(), before.sort(), 'refused pods left state behind');
    const pods = await unary(rt.listPodSandbox.bind(rt), { filter: undefined });
    assert.equal(pods.items.length, 0);
  });

  it('refuses hostile container configs (log paths, mounts, devices, numbers) and leaves nothing behind', async () => {
    const rt = berthd.runtime();
    const podConfig = PodSandboxConfig.fromJSON({
      metadata: { name: 'fuzz', namespace: 'fuzz', uid: 'fuzz-uid' },
      logDirectory: join(berthd.dir, 'fuzz-logs'),
    });
    const pod = (await unary(rt.runPodSandbox.bind(rt), { config: podConfig, runtimeHandler: '' }, 30_000))
      .podSandboxId;
    let accepted = 0;
    try {
      for (let round = 0; round < 60; round++) {
        const hostile: Record<string, unknown> = {
          metadata: { name: pick(hostileStrings()), attempt: pick(hostileUint32) },
          image: { image: pick([image, '', 'nope:latest', '../../etc/passwd', 'x'.repeat(5000)]) },
          command: [pick(hostileStrings()).slice(0, 1000)],
          logPath: pick(['../../../..' + canary, '/abs/log', 'ok.log', '', 'a/../../b.log', 'x'.repeat(5000)]),
          workingDir: pick(['relative', '/', '/../../..', '']),
          mounts: [
            {
              containerPath: pick(['/data', 'relative', '/proc/../', '', '/dev/../etc']),
              hostPath: pick(['relative/path', '/nonexistent-' + SEED, '', '/tmp']),
              propagation: pick([0, 1, 2, 9]),
            },
          ],
          devices: [
            {
              containerPath: pick(['/dev/x', 'rel', '']),
              hostPath: pick(['/dev/null', '/etc/passwd', 'rel', '']),
              permissions: pick(['rwm', 'xyz', '']),
            },
          ],
          envs: [{ key: pick(hostileStrings()).slice(0, 200), value: pick(hostileStrings()).slice(0, 200) }],
          linux: {
            resources: {
              cpuPeriod: pick(hostileNumbers),
              cpuQuota: pick(hostileNumbers),
              cpuShares: pick(hostileNumbers),
              memoryLimitInBytes: pick(hostileNumbers),
              oomScoreAdj: pick([...hostileNumbers, -1000, 1000, 1001]),
              cpusetCpus: pick(['0', '0-1', 'zzz', '9999', '']),
            },
            securityContext: {
              runAsUser: pick([undefined, { value: -1 }, { value: 2 ** 31 }]),
              seccomp: pick([undefined, { profileType: 2, localhostRef: '../../../etc/shadow' }, { profileType: 9 }]),
              capabilities: { addCapabilities: [pick(['CAP_SYS_ADMIN', 'NOPE', 'ALL', ''])], dropCapabilities: [] },
              maskedPaths: [pick(['/proc/kcore', 'relative', ''])],
            },
          },
        };
        const valid: Record<string, unknown> = {
          metadata: { name: `ok-${round}` },
          image: { image },
          command: ['sleep', '1'],
          logPath: `ok-${round}.log`,
        };
        const field = pick(Object.keys(hostile));
        const config = ContainerConfig.fromJSON(random() < 0.5 ? hostile : { ...valid, [field]: hostile[field] });
        try {
          const res = await unary(
            rt.createContainer.bind(rt),
            { podSandboxId: pod, config, sandboxConfig: podConfig },
            30_000,
          );
          await unary(rt.removeContainer.bind(rt), { containerId: res.containerId }, 30_000);
          accepted++;
        } catch (err) {
          const e = err as ServiceError;
          assert.ok(
            REFUSALS.has(e.code),
            `CreateContainer answered ${e.code} ${e.details}\nfor ${JSON.stringify(ContainerConfig.toJSON(config)).slice(0, 3000)}`,
          );
          assert.ok(e.details.length > 0);
        }
      }
      console.log(`container configs: ${accepted} accepted, ${60 - accepted} refused`);
      await alive();
      assert.equal(existsSync(canary), false, "a hostile path reached outside berthd's dirs");
      const ctrs = await unary(rt.listContainers.bind(rt), { filter: undefined });
      assert.equal(ctrs.containers.length, 0, 'refused containers are listed');
      const bundles = await readdir(join(berthd.state, 'containers')).catch(() => []);
      assert.deepEqual(bundles, [], 'refused containers left bundles');
      const mounts = await import('node:fs/promises').then((fs) => fs.readFile('/proc/self/mountinfo', 'utf8'));
      assert.ok(!mounts.includes(join(berthd.state, 'containers')), 'a refused container left a mount');
    } finally {
      await unary(rt.removePodSandbox.bind(rt), { podSandboxId: pod }, 30_000).catch(() => undefined);
    }
  });
});

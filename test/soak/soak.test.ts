// Soak (issue #7): cycles pods and containers with streaming exec, ExecSync and log reads at a steady rate for a
// bounded time (SOAK_MINUTES, default 20), sampling berthd's RSS and open fds every SOAK_SAMPLE_SECONDS
// (default 60). Fails when either grows without bound: the last samples against the first ones after warm-up.
// Not part of `npm test` (CI's time budget): run with `npm run test:soak`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ContainerConfig, PodSandboxConfig } from '../../src/api/gen/cri.js';
import { runCommandSession } from '../../src/cli/stream-client.js';
import { integrationSkipReason, startBerthd } from '../harness/berthd.js';
import type { Berthd } from '../harness/berthd.js';
import { unary } from '../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../harness/registry.js';
import type { Registry } from '../harness/registry.js';
import { buildTestImages } from '../harness/test-images.js';

const MINUTES = Number(process.env['SOAK_MINUTES'] ?? 20);
const SAMPLE_MS = Number(process.env['SOAK_SAMPLE_SECONDS'] ?? 60) * 1000;
/** Cycles started per second: a kubelet churning pods on a busy node. */
const CYCLE_INTERVAL_MS = 1500;
/** Growth allowed between the early and the late samples (allocator slack, caches filling once). */
const RSS_SLACK_BYTES = 40 * 1024 * 1024;
const RSS_SLACK_RATIO = 1.5;
const FD_SLACK = 16;

const skip = integrationSkipReason() ?? (await registrySkipReason());

interface Sample {
  readonly atMs: number;
  readonly rssBytes: number;
  readonly fds: number;
  readonly cycles: number;
}

async function sampleOf(pid: number, cycles: number, startMs: number): Promise<Sample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { atMs: Date.now() - startMs, rssBytes: rssKb * 1024, fds, cycles };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

describe('soak', { skip, timeout: (MINUTES + 5) * 60_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd({ logLevel: 'info' });
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
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });

  it(`keeps berthd's memory and fds flat over ${MINUTES} minutes of pod churn`, async () => {
    const rt = berthd.runtime();
    const pid = berthd.process.pid!;
    const startMs = Date.now();
    const endMs = startMs + MINUTES * 60_000;
    const samples: Sample[] = [];
    let cycles = 0;
    let failures = 0;
    const cycle = async (n: number): Promise<void> => {
      const config = PodSandboxConfig.fromJSON({
        metadata: { name: `soak-${n}`, namespace: 'soak', uid: `soak-${n}` },
        logDirectory: join(berthd.dir, 'soak-logs', String(n)),
      });
      const pod = (await unary(rt.runPodSandbox.bind(rt), { config, runtimeHandler: '' }, 60_000)).podSandboxId;
      try {
        const { containerId } = await unary(
          rt.createContainer.bind(rt),
          {
            podSandboxId: pod,
            config: ContainerConfig.fromJSON({
              metadata: { name: 'c' },
              image: { image },
              command: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'],
              logPath: 'c.log',
            }),
            sandboxConfig: config,
          },
          60_000,
        );
        await unary(rt.startContainer.bind(rt), { containerId }, 60_000);
        const sync = await unary(rt.execSync.bind(rt), { containerId, cmd: ['echo', 'sync'], timeout: 10n }, 20_000);
        assert.equal(sync.stdout.toString(), 'sync\n');
        const { url } = await unary(rt.exec.bind(rt), {
          containerId,
          cmd: ['sh', '-c', 'head -c 100000 /dev/zero; exit 3'],
          tty: false,
          stdin: false,
          stdout: true,
          stderr: true,
        });
        let bytes = 0;
        const out = new Writable({
          write(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            cb();
          },
        });
        assert.equal(await runCommandSession(url, { stdin: undefined, stdout: out, stderr: out }), 3);
        assert.equal(bytes, 100_000);
        const log = await readFile(join(berthd.dir, 'soak-logs', String(n), 'c.log'), 'utf8').catch(() => '');
        void log;
        await unary(rt.stopContainer.bind(rt), { containerId, timeout: 1n }, 30_000);
        await unary(rt.removeContainer.bind(rt), { containerId }, 30_000);
      } finally {
        await unary(rt.removePodSandbox.bind(rt), { podSandboxId: pod }, 60_000);
      }
    };
    let nextSample = startMs;
    const running = new Set<Promise<void>>();
    while (Date.now() < endMs) {
      if (Date.now() >= nextSample) {
        samples.push(await sampleOf(pid, cycles, startMs));
        nextSample += SAMPLE_MS;
      }
      const n = cycles++;
      const p = cycle(n)
        .catch((err: unknown) => {
          failures++;
          console.error(`cycle ${n} failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => running.delete(p));
      running.add(p);
      await new Promise((r) => setTimeout(r, CYCLE_INTERVAL_MS));
    }
    await Promise.all(running);
    samples.push(await sampleOf(pid, cycles, startMs));
    for (const s of samples) {
      console.log(
        `t=${(s.atMs / 60_000).toFixed(1)}min rss=${(s.rssBytes / 2 ** 20).toFixed(1)}MiB fds=${s.fds} cycles=${s.cycles}`,
      );
    }
    assert.ok(failures <= Math.max(1, cycles / 100), `${failures} of ${cycles} cycles failed`);
    // Warm-up: the first quarter fills caches, JIT and the allocator's pools.
    const settled = samples.slice(Math.floor(samples.length / 4));
    const third = Math.max(1, Math.floor(settled.length / 3));
    const early = settled.slice(0, third);
    const late = settled.slice(-third);
    const rssEarly = median(early.map((s) => s.rssBytes));
    const rssLate = median(late.map((s) => s.rssBytes));
    assert.ok(
      rssLate <= Math.max(rssEarly * RSS_SLACK_RATIO, rssEarly + RSS_SLACK_BYTES),
      `berthd RSS grew from ${(rssEarly / 2 ** 20).toFixed(1)} to ${(rssLate / 2 ** 20).toFixed(1)} MiB`,
    );
    const fdEarly = median(early.map((s) => s.fds));
    const fdLate = median(late.map((s) => s.fds));
    assert.ok(fdLate <= fdEarly + FD_SLACK, `berthd's open fds grew from ${fdEarly} to ${fdLate}`);
  });
});

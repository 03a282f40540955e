/**
 * Image pull: CRI PullImage of a 5-layer image of ~157 MB (gzip of random bytes, so incompressible, as
 * real layers of binaries nearly are) from a local registry (Debian's docker-registry on 127.0.0.1) into a
 * fresh daemon: resolve, download, verify and unpack into overlayfs, until PullImage answers. Each run
 * starts a new daemon on a new temp root, so nothing is cached; the registry and the image are shared by
 * all runs of one daemon (the registry serves from the page cache after the first push).
 */
import { randomBytes } from 'node:crypto';
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { CriClient } from '../cri-client.js';
import { waitReady } from '../daemons.js';
import { elapsedMs, summarize } from '../stats.js';
import { buildImage, buildLayer, pushImage } from '../../test/harness/oci-image.js';
import type { OciImage } from '../../test/harness/oci-image.js';
import { startRegistry } from '../../test/harness/registry.js';

const LAYERS = 5;
const LAYER_BYTES = 30 * 1024 * 1024;
const RUNS = 5;
const PULL_DEADLINE_MS = 300_000;

/** Built once per bench process and shared by both daemons, so they pull the very same bytes. */
const cache: { image?: Promise<OciImage> } = {};

function benchImage(): Promise<OciImage> {
  cache.image ??= (async () => {
    const layers = [];
    for (let i = 0; i < LAYERS; i++) {
      layers.push(await buildLayer([{ type: 'file', path: `data/layer-${i}.bin`, content: randomBytes(LAYER_BYTES) }]));
    }
    return buildImage(layers);
  })();
  return cache.image;
}

export const imagePull: Benchmark = {
  name: 'image-pull',
  description: `CRI PullImage of a ${LAYERS}-layer, ~${Math.round((LAYERS * LAYER_BYTES) / 1e6)} MB image from a local registry into a fresh daemon (download, verify, unpack), ${RUNS} runs`,
  async run(ctx): Promise<Metric[]> {
    const image = await benchImage();
    const registry = await startRegistry();
    try {
      await pushImage(registry.url, 'bench/big', image, ['1']);
      const ref = `${registry.host}/bench/big:1`;
      const samplesMs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const ms = await withDaemon(
          ctx,
          async (daemon) => {
            await waitReady(daemon);
            const client = new CriClient(daemon.endpoint);
            try {
              const startNs = process.hrtime.bigint();
              const id = await client.pullImage(ref, { deadlineMs: PULL_DEADLINE_MS });
              const ms = elapsedMs(startNs, process.hrtime.bigint());
              if (id !== image.config.digest) throw new Error(`pulled ${id}, expected ${image.config.digest}`);
              return ms;
            } finally {
              client.close();
            }
          },
          { registryHosts: [registry.host] },
        );
        samplesMs.push(ms);
      }
      ctx.log(`image-pull ${ctx.driver.name}: ${samplesMs.map((ms) => ms.toFixed(0)).join(' ')} ms`);
      const s = summarize(samplesMs);
      return [
        { name: 'median', unit: 'ms', value: s.p50, digits: 0 },
        { name: 'min', unit: 'ms', value: s.min, digits: 0 },
      ];
    } finally {
      await registry.stop();
    }
  },
};

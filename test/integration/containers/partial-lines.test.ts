// Partial log lines: conmon writes a line longer than its buffer, or output without a trailing newline, as `P`
// records followed by the `F` record that ends the line; `berth logs` joins them back into the line the
// container printed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerConfig, ContainerState, PodSandboxConfig } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('partial log lines', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });

  it('records long and unterminated lines as P records and berth logs joins them', async () => {
    const image = `${registry.host}/berth-test/busybox:latest`;
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
    const rt = berthd.runtime();
    const logDir = join(berthd.dir, 'logs');
    const podConfig = PodSandboxConfig.fromJSON({
      metadata: { name: 'partial', namespace: 'test', uid: 'partial-uid' },
      logDirectory: logDir,
    });
    const pod = (await unary(rt.runPodSandbox.bind(rt), { config: podConfig, runtimeHandler: '' }, 30_000))
      .podSandboxId;
    const long = 20_000;
    const { containerId } = await unary(
      rt.createContainer.bind(rt),
      {
        podSandboxId: pod,
        config: ContainerConfig.fromJSON({
          metadata: { name: 'partial' },
          image: { image },
          command: [
            'sh',
            '-c',
            `printf 'first-'; sleep 0.5; echo half; yes a | head -n ${long} | tr -d '\\n'; echo; printf 'no-newline-at-exit'`,
          ],
          logPath: 'partial.log',
        }),
        sandboxConfig: podConfig,
      },
      60_000,
    );
    await unary(rt.startContainer.bind(rt), { containerId }, 30_000);
    for (let i = 0; i < 100; i++) {
      const st = await unary(rt.containerStatus.bind(rt), { containerId, verbose: false });
      if (st.status?.state === ContainerState.CONTAINER_EXITED) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const raw = await readFile(join(logDir, 'partial.log'), 'utf8');
    const records = raw.split('\n').filter((l) => l !== '');
    assert.ok(
      records.some((r) => / stdout P /.test(r)),
      'no partial records',
    );
    assert.ok(
      records.every((r) => /^\S+ (stdout|stderr) [PF] /.test(r)),
      'malformed CRI log line',
    );
    const logs = runBerth(['--address', berthd.address, 'logs', containerId], {}, 30_000);
    assert.equal(logs.status, 0, logs.stderr);
    const lines = logs.stdout.split('\n');
    assert.equal(lines[0], 'first-half');
    assert.equal(lines[1], 'a'.repeat(long));
    assert.equal(lines[2], 'no-newline-at-exit');
    await unary(rt.removePodSandbox.bind(rt), { podSandboxId: pod }, 30_000);
  });
});

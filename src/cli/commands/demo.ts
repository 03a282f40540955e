/**
 * berth demo: what `npm start` runs once berthd answers. It builds a busybox image from the host (offline),
 * loads it, runs a pod with one container on the pod network, and prints `pods`, `ps` and the container's first
 * log lines. A pod left by an earlier demo is removed first, so it can run again.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ContainerState, PodSandboxConfig } from '../../api/gen/cri.js';
import type { Clients } from '../client.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { buildDemoArchive } from '../demo-image.js';
import { readCriLog } from '../log-reader.js';
import { printContainerTable } from './containers.js';
import { printPodTable } from './pods.js';

const IMAGE = 'berth.local/demo/busybox:latest';
const POD_NAME = 'berth-demo';
/** The kubelet's layout, /var/log/pods/<namespace>_<name>_<uid>: each demo pod gets its own directory. */
const POD_LOGS_ROOT = '/var/log/pods';
const LOG_DIR_PREFIX = `default_${POD_NAME}`;

/** Removes the pods of earlier demos and, as the kubelet does for the pods it deletes, their log directories. */
async function removeEarlierDemo(clients: Clients): Promise<void> {
  const pods = await clients.call(clients.runtime.listPodSandbox.bind(clients.runtime), {
    filter: { id: '', state: undefined, labelSelector: { 'berth.demo': 'true' } },
  });
  for (const pod of pods.items) {
    await clients.call(clients.runtime.removePodSandbox.bind(clients.runtime), { podSandboxId: pod.id });
  }
  for (const name of await readdir(POD_LOGS_ROOT).catch(() => [] as string[])) {
    if (name === LOG_DIR_PREFIX || name.startsWith(`${LOG_DIR_PREFIX}_`)) {
      await rm(join(POD_LOGS_ROOT, name), { recursive: true, force: true });
    }
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run a first pod: a busybox image built from this host, loaded, and started (no registry needed)')
    .option('--log-dir <dir>', `where the pod logs go (default ${POD_LOGS_ROOT}/${LOG_DIR_PREFIX}_<pod uid>)`)
    .addHelpText('after', '\nExample:\n  berth demo\n')
    .action(async (opts: { logDir?: string }, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const archive = await buildDemoArchive(IMAGE);
        const admin = clients.admin;
        const loaded = await clients.sendStream(
          admin.importImages.bind(admin),
          (async function* () {
            yield { namespace: 'k8s.io', data: archive };
          })(),
        );
        process.stdout.write(`Loaded image: ${loaded.images[0]?.names[0] ?? IMAGE}\n`);
        await removeEarlierDemo(clients);
        const uid = randomBytes(8).toString('hex');
        const podConfig = PodSandboxConfig.fromJSON({
          metadata: { name: POD_NAME, namespace: 'default', uid, attempt: 0 },
          hostname: POD_NAME,
          logDirectory: opts.logDir ?? join(POD_LOGS_ROOT, `${LOG_DIR_PREFIX}_${uid}`),
          labels: { 'berth.demo': 'true' },
        });
        const { podSandboxId } = await clients.call(clients.runtime.runPodSandbox.bind(clients.runtime), {
          config: podConfig,
          runtimeHandler: '',
        });
        const { containerId } = await clients.call(clients.runtime.createContainer.bind(clients.runtime), {
          podSandboxId,
          config: {
            metadata: { name: 'hello', attempt: 0 },
            image: { image: IMAGE, annotations: {}, userSpecifiedImage: IMAGE, runtimeHandler: '', imageRef: '' },
            command: [
              '/bin/sh',
              '-c',
              'echo "Hello from Berth, in pod $(hostname)"; uname -sr; while :; do date; sleep 10; done',
            ],
            args: [],
            workingDir: '',
            envs: [],
            mounts: [],
            devices: [],
            labels: {},
            annotations: {},
            logPath: 'hello.log',
            stdin: false,
            stdinOnce: false,
            tty: false,
            linux: undefined,
            windows: undefined,
            CDIDevices: [],
            stopSignal: 0,
          },
          sandboxConfig: podConfig,
        });
        await clients.call(clients.runtime.startContainer.bind(clients.runtime), { containerId });
        const status = await clients.call(clients.runtime.podSandboxStatus.bind(clients.runtime), {
          podSandboxId,
          verbose: false,
        });
        process.stdout.write(
          `Pod ${podSandboxId.slice(0, 13)} runs at ${status.status?.network?.ip || 'the host network'}\n\n`,
        );
        const pods = await clients.call(clients.runtime.listPodSandbox.bind(clients.runtime), { filter: undefined });
        process.stdout.write('$ berth pods\n');
        printPodTable(pods.items);
        const ctrs = await clients.call(clients.runtime.listContainers.bind(clients.runtime), { filter: undefined });
        process.stdout.write('\n$ berth ps\n');
        printContainerTable(ctrs.containers.filter((c) => c.state === ContainerState.CONTAINER_RUNNING));
        process.stdout.write('\n');
        // The first lines of the log, as `berth logs` shows them.
        const st = await clients.call(clients.runtime.containerStatus.bind(clients.runtime), {
          containerId,
          verbose: false,
        });
        if (st.status?.state !== ContainerState.CONTAINER_RUNNING)
          throw new CliError('the demo container is not running');
        for (let i = 0; i < 50; i++) {
          const lines: string[] = [];
          for await (const out of readCriLog(st.status.logPath)) lines.push(out.bytes.toString());
          if (lines.length >= 3) {
            process.stdout.write(`$ berth logs ${containerId.slice(0, 13)}\n${lines.join('')}\n`);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        process.stdout.write('Clean up with: berth rmp --all\n');
      });
    });
}

/**
 * berth create / start / stop / rm / ps / inspect / logs: crictl's container commands over CRI
 * RuntimeService. `logs` reads the CRI log file itself, as crictl does (the CLI runs on the node).
 */
import type { Command } from 'commander';
import {
  Container,
  ContainerState,
  ContainerStats,
  ContainerStatus,
  LinuxContainerResources,
  PodSandboxConfig,
} from '../../api/gen/cri.js';
import type { Clients } from '../client.js';
import { containerConfigFromDoc, readCriConfigFile } from '../cri-config-file.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { ago, humanSize } from '../format.js';
import { readCriLog } from '../log-reader.js';
import { formatData, formatTable, outputOption, printData, printTable } from '../output.js';
import type { OutputFormat } from '../output.js';
import { parseIntervalMs, watchLoop } from '../watch.js';

const STATE_NAMES: Record<number, string> = {
  [ContainerState.CONTAINER_CREATED]: 'Created',
  [ContainerState.CONTAINER_RUNNING]: 'Running',
  [ContainerState.CONTAINER_EXITED]: 'Exited',
  [ContainerState.CONTAINER_UNKNOWN]: 'Unknown',
};

function stateFilter(state: string | undefined): { state: ContainerState } | undefined {
  if (state === undefined) return undefined;
  const s = state.toLowerCase();
  if (s === 'created') return { state: ContainerState.CONTAINER_CREATED };
  if (s === 'running') return { state: ContainerState.CONTAINER_RUNNING };
  if (s === 'exited') return { state: ContainerState.CONTAINER_EXITED };
  throw new CliError(`--state "${state}" must be created, running or exited`);
}

async function listContainers(clients: Clients, filter: { id?: string; podId?: string; state?: string }) {
  const res = await clients.call(clients.runtime.listContainers.bind(clients.runtime), {
    filter: {
      id: filter.id ?? '',
      podSandboxId: filter.podId ?? '',
      state: stateFilter(filter.state),
      labelSelector: {},
    },
  });
  return res.containers;
}

/** The full id of a container from an id or unique prefix. */
async function resolveContainerId(clients: Clients, idOrPrefix: string): Promise<string> {
  const matches = await listContainers(clients, { id: idOrPrefix });
  if (matches.length === 0) throw new CliError(`no such container: ${idOrPrefix}`);
  if (matches.length > 1) throw new CliError(`container id prefix "${idOrPrefix}" is ambiguous (${matches.length})`);
  return matches[0]!.id;
}

/** crictl's --since: RFC3339, or a duration before now like 42m, 2h, 10s. */
export function parseSince(value: string, nowMs = Date.now()): Date {
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (rel !== null) {
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[rel[2] as 'ms' | 's' | 'm' | 'h'];
    return new Date(nowMs - Number(rel[1]) * factor);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new CliError(`--since "${value}" must be RFC3339 or a duration like 10m`);
  return date;
}

/** crictl's ps table. */
export function printContainerTable(containers: readonly Container[]): void {
  printTable(
    ['container', 'image', 'created', 'state', 'name', 'attempt', 'pod id'],
    containers.map((c) => [
      c.id.slice(0, 13),
      c.image?.image ?? c.imageRef,
      ago(c.createdAt),
      STATE_NAMES[c.state] ?? 'Unknown',
      c.metadata?.name ?? '',
      String(c.metadata?.attempt ?? 0),
      c.podSandboxId.slice(0, 13),
    ]),
  );
}

/** The stats table (or document) of the containers asked for, as text. */
async function renderStats(
  clients: Clients,
  idOrPrefix: string | undefined,
  opts: { all: boolean; pod?: string },
  output: OutputFormat,
): Promise<string> {
  const running = await listContainers(clients, {
    ...(idOrPrefix === undefined ? {} : { id: idOrPrefix }),
    ...(opts.pod === undefined ? {} : { podId: opts.pod }),
    ...(opts.all ? {} : { state: 'running' }),
  });
  const ids = new Set(running.map((c) => c.id));
  const res = await clients.call(clients.runtime.listContainerStats.bind(clients.runtime), {
    filter: { id: idOrPrefix ?? '', podSandboxId: opts.pod ?? '', labelSelector: {} },
  });
  const stats = res.stats.filter((s) => ids.has(s.attributes?.id ?? ''));
  if (output !== 'table') return formatData({ stats: stats.map((s) => ContainerStats.toJSON(s)) }, output);
  const names = new Map(running.map((c) => [c.id, c.metadata?.name ?? '']));
  return formatTable(
    ['container', 'name', 'cpu %', 'mem', 'disk', 'inodes'],
    stats.map((s) => [
      (s.attributes?.id ?? '').slice(0, 13),
      names.get(s.attributes?.id ?? '') ?? '',
      (Number(s.cpu?.usageNanoCores?.value ?? 0n) / 1e7).toFixed(2),
      humanSize(s.memory?.workingSetBytes?.value ?? 0n),
      humanSize(s.writableLayer?.usedBytes?.value ?? 0n),
      String(s.writableLayer?.inodesUsed?.value ?? 0n),
    ]),
  );
}

export function registerContainers(program: Command): void {
  program
    .command('create <pod-id> <container-config> <pod-config>')
    .description('Create a container in a pod from ContainerConfig and PodSandboxConfig files (JSON or YAML)')
    .addHelpText('after', '\nExample:\n  berth create 1a2b3c container.json pod.json\n')
    .action(async (podId: string, containerFile: string, podFile: string, _opts: unknown, cmd: Command) => {
      const config = containerConfigFromDoc(await readCriConfigFile(containerFile));
      const sandboxConfig = PodSandboxConfig.fromJSON(await readCriConfigFile(podFile));
      await withClients(cmd, async (clients) => {
        const pods = await clients.call(clients.runtime.listPodSandbox.bind(clients.runtime), {
          filter: { id: podId, state: undefined, labelSelector: {} },
        });
        if (pods.items.length !== 1) throw new CliError(`no such pod (or ambiguous prefix): ${podId}`);
        const res = await clients.call(clients.runtime.createContainer.bind(clients.runtime), {
          podSandboxId: pods.items[0]!.id,
          config,
          sandboxConfig,
        });
        process.stdout.write(`${res.containerId}\n`);
      });
    });

  program
    .command('start <container-ids...>')
    .description('Start created containers')
    .addHelpText('after', '\nExample:\n  berth start 4d5e6f\n')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        for (const idOrPrefix of ids) {
          const id = await resolveContainerId(clients, idOrPrefix);
          await clients.call(clients.runtime.startContainer.bind(clients.runtime), { containerId: id });
          process.stdout.write(`${id}\n`);
        }
      });
    });

  program
    .command('stop <container-ids...>')
    .description('Stop running containers (the stop signal, then SIGKILL after --timeout seconds)')
    .option('-t, --timeout <seconds>', 'grace period before SIGKILL', '10')
    .addHelpText('after', '\nExample:\n  berth stop -t 30 4d5e6f\n')
    .action(async (ids: string[], opts: { timeout: string }, cmd: Command) => {
      const timeout = Number(opts.timeout);
      if (!Number.isInteger(timeout) || timeout < 0) throw new CliError('--timeout must be whole seconds >= 0');
      await withClients(cmd, async (clients) => {
        for (const idOrPrefix of ids) {
          const id = await resolveContainerId(clients, idOrPrefix);
          await clients.call(clients.runtime.stopContainer.bind(clients.runtime), {
            containerId: id,
            timeout: BigInt(timeout),
          });
          process.stdout.write(`${id}\n`);
        }
      });
    });

  program
    .command('rm [container-ids...]')
    .description('Remove containers; running ones only with --force (they are killed first)')
    .option('-a, --all', 'remove every container', false)
    .option('-f, --force', 'also remove running containers', false)
    .addHelpText('after', '\nExamples:\n  berth rm 4d5e6f\n  berth rm --all --force\n')
    .action(async (ids: string[], opts: { all: boolean; force: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const targets = opts.all ? (await listContainers(clients, {})).map((c) => c.id) : ids;
        if (targets.length === 0 && !opts.all) throw new CliError('rm needs at least one container id (or --all)');
        for (const idOrPrefix of targets) {
          const [found, ...more] = await listContainers(clients, { id: idOrPrefix });
          if (found === undefined) throw new CliError(`no such container: ${idOrPrefix}`);
          if (more.length > 0) throw new CliError(`container id prefix "${idOrPrefix}" is ambiguous`);
          const id = found.id;
          if (found.state === ContainerState.CONTAINER_RUNNING && !opts.force) {
            throw new CliError(`container ${id.slice(0, 13)} is running: stop it first, or use --force`);
          }
          await clients.call(clients.runtime.removeContainer.bind(clients.runtime), { containerId: id });
          process.stdout.write(`${id}\n`);
        }
      });
    });

  program
    .command('ps')
    .description('List containers (running ones unless -a)')
    .option('-a, --all', 'show all containers', false)
    .option('-p, --pod <pod-id>', 'only containers of this pod')
    .option('--state <state>', 'created, running or exited')
    .option('--name <regexp>', 'only containers whose name matches')
    .option('--label <key=value...>', 'only containers with these labels', [])
    .option('--image <image>', 'only containers of this image (name or id)')
    .option('-l, --latest', 'only the most recently created container', false)
    .option('--last <n>', 'only the n most recently created containers')
    .option('-q, --quiet', 'print container ids only', false)
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  berth ps -a\n  berth ps --name "^web" --label app=web --last 3\n')
    .action(
      async (
        opts: {
          all: boolean;
          pod?: string;
          state?: string;
          name?: string;
          label: string[];
          image?: string;
          latest: boolean;
          last?: string;
          quiet: boolean;
        },
        cmd: Command,
      ) => {
        const last = opts.latest ? 1 : opts.last === undefined ? undefined : Number(opts.last);
        if (last !== undefined && (!Number.isInteger(last) || last < 1)) throw new CliError('--last must be >= 1');
        let nameFilter: RegExp | undefined;
        try {
          nameFilter = opts.name === undefined ? undefined : new RegExp(opts.name);
        } catch {
          throw new CliError(`--name "${opts.name ?? ''}" is not a valid regular expression`);
        }
        const labels: Record<string, string> = {};
        for (const pair of opts.label) {
          const i = pair.indexOf('=');
          if (i <= 0) throw new CliError(`--label "${pair}" must be KEY=VALUE`);
          labels[pair.slice(0, i)] = pair.slice(i + 1);
        }
        await withClients(cmd, async (clients, g) => {
          const state = opts.state ?? (opts.all || last !== undefined ? undefined : 'running');
          const res = await clients.call(clients.runtime.listContainers.bind(clients.runtime), {
            filter: {
              id: '',
              podSandboxId: opts.pod ?? '',
              state: stateFilter(state),
              labelSelector: labels,
            },
          });
          let imageId: string | undefined;
          if (opts.image !== undefined) {
            const st = await clients.call(clients.image.imageStatus.bind(clients.image), {
              image: { image: opts.image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' },
              verbose: false,
            });
            imageId = st.image?.id ?? opts.image;
          }
          let containers = res.containers
            .filter((c) => nameFilter === undefined || nameFilter.test(c.metadata?.name ?? ''))
            .filter((c) => imageId === undefined || c.imageId === imageId || c.image?.image === opts.image)
            .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
          if (last !== undefined) containers = containers.slice(0, last);
          if (opts.quiet) {
            process.stdout.write(containers.map((c) => `${c.id}\n`).join(''));
            return;
          }
          if (g.output !== 'table') {
            printData({ containers: containers.map((c) => Container.toJSON(c)) }, g.output);
            return;
          }
          printContainerTable(containers);
        });
      },
    );

  program
    .command('inspect <container-id>')
    .description('Show the status of a container, with its config')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  berth inspect 4d5e6f -o yaml\n')
    .action(async (idOrPrefix: string, _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const id = await resolveContainerId(clients, idOrPrefix);
        const res = await clients.call(clients.runtime.containerStatus.bind(clients.runtime), {
          containerId: id,
          verbose: true,
        });
        const info = Object.fromEntries(Object.entries(res.info).map(([k, v]) => [k, JSON.parse(v) as unknown]));
        const doc = { status: res.status ? ContainerStatus.toJSON(res.status) : null, info: info['info'] ?? {} };
        printData(doc, g.output === 'yaml' ? 'yaml' : 'json');
      });
    });

  program
    .command('stats [container-id]')
    .description('Show CPU, memory and writable-layer usage of containers (running ones unless -a)')
    .option('-a, --all', 'include containers that are not running', false)
    .option('-p, --pod <pod-id>', 'only containers of this pod')
    .option('-w, --watch', 'refresh until Ctrl-C (in place on a terminal)', false)
    .option('--interval <seconds>', 'seconds between refreshes with --watch', '1')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  berth stats -o json 4d5e6f\n  berth stats --watch --interval 2\n')
    .action(
      async (
        idOrPrefix: string | undefined,
        opts: { all: boolean; pod?: string; watch: boolean; interval: string },
        cmd: Command,
      ) => {
        const intervalMs = parseIntervalMs(opts.interval);
        await withClients(cmd, async (clients, g) => {
          const render = (): Promise<string> => renderStats(clients, idOrPrefix, opts, g.output);
          if (opts.watch) await watchLoop(render, { intervalMs, out: process.stdout });
          else process.stdout.write(await render());
        });
      },
    );

  program
    .command('update <container-id>')
    .description('Change the CPU and memory limits of a running container')
    .option('--memory <bytes>', 'memory limit in bytes')
    .option('--cpu-shares <n>', 'CPU shares')
    .option('--cpu-quota <us>', 'CPU CFS quota in microseconds')
    .option('--cpu-period <us>', 'CPU CFS period in microseconds')
    .option('--cpuset-cpus <list>', 'CPUs allowed, e.g. 0-1')
    .addHelpText('after', '\nExample:\n  berth update --memory 67108864 --cpu-shares 512 4d5e6f\n')
    .action(
      async (
        idOrPrefix: string,
        opts: { memory?: string; cpuShares?: string; cpuQuota?: string; cpuPeriod?: string; cpusetCpus?: string },
        cmd: Command,
      ) => {
        const n = (v: string | undefined, what: string): bigint => {
          if (v === undefined) return 0n;
          if (!/^\d+$/.test(v)) throw new CliError(`${what} must be a whole number`);
          return BigInt(v);
        };
        const linux = LinuxContainerResources.fromJSON({});
        linux.memoryLimitInBytes = n(opts.memory, '--memory');
        linux.cpuShares = n(opts.cpuShares, '--cpu-shares');
        linux.cpuQuota = n(opts.cpuQuota, '--cpu-quota');
        linux.cpuPeriod = n(opts.cpuPeriod, '--cpu-period');
        linux.cpusetCpus = opts.cpusetCpus ?? '';
        await withClients(cmd, async (clients) => {
          const id = await resolveContainerId(clients, idOrPrefix);
          await clients.call(clients.runtime.updateContainerResources.bind(clients.runtime), {
            containerId: id,
            linux,
            windows: undefined,
            annotations: {},
          });
          process.stdout.write(`${id}\n`);
        });
      },
    );

  program
    .command('logs <container-id>')
    .description("Print a container's log (read from its CRI log file)")
    .option('-f, --follow', 'keep printing new lines until the container exits', false)
    .option('--tail <lines>', 'only the last N lines (-1: all)', '-1')
    .option('--since <time>', 'only lines since RFC3339 time or duration (e.g. 10m)')
    .option('-t, --timestamps', 'show timestamps', false)
    .option('--limit-bytes <n>', 'stop after N bytes (-1: no limit)', '-1')
    .addHelpText('after', '\nExample:\n  berth logs -f --tail 20 4d5e6f\n')
    .action(
      async (
        idOrPrefix: string,
        opts: { follow: boolean; tail: string; since?: string; timestamps: boolean; limitBytes: string },
        cmd: Command,
      ) => {
        await withClients(cmd, async (clients) => {
          const id = await resolveContainerId(clients, idOrPrefix);
          const statusOf = () =>
            clients.call(clients.runtime.containerStatus.bind(clients.runtime), { containerId: id, verbose: false });
          const st = await statusOf();
          const path = st.status?.logPath ?? '';
          if (path === '') throw new CliError(`container ${id} has no log file (its pod has no log directory)`);
          const abort = new AbortController();
          const onInt = (): void => abort.abort();
          process.once('SIGINT', onInt);
          try {
            const reader = readCriLog(path, {
              tail: Number(opts.tail),
              ...(opts.since === undefined ? {} : { since: parseSince(opts.since) }),
              timestamps: opts.timestamps,
              limitBytes: Number(opts.limitBytes),
              follow: opts.follow,
              signal: abort.signal,
              shouldStop: async () => (await statusOf()).status?.state !== ContainerState.CONTAINER_RUNNING,
            });
            for await (const out of reader) {
              const stream = out.stream === 'stderr' ? process.stderr : process.stdout;
              if (!stream.write(out.bytes)) await new Promise<void>((r) => stream.once('drain', () => r()));
            }
          } finally {
            process.off('SIGINT', onInt);
          }
        });
      },
    );
}

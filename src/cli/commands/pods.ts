/** berth runp / pods / inspectp / stopp / rmp: crictl's pod commands over CRI RuntimeService. */
import type { Command } from 'commander';
import { PodSandbox, PodSandboxConfig, PodSandboxState, PodSandboxStatus } from '../../api/gen/cri.js';
import { readCriConfigFile } from '../cri-config-file.js';
import { CliError } from '../errors.js';
import { withClients } from '../context.js';
import type { Clients } from '../client.js';
import { printData, printTable, outputOption } from '../output.js';
import { ago } from '../format.js';

function stateName(state: PodSandboxState): string {
  return state === PodSandboxState.SANDBOX_READY ? 'Ready' : 'NotReady';
}

function parseLabels(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new CliError(`--label "${pair}" must be KEY=VALUE`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

async function listPods(clients: Clients, filter: { id?: string; state?: string; labels?: Record<string, string> }) {
  const state =
    filter.state === undefined
      ? undefined
      : { state: /^ready$/i.test(filter.state) ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY };
  const res = await clients.call(clients.runtime.listPodSandbox.bind(clients.runtime), {
    filter: { id: filter.id ?? '', state, labelSelector: filter.labels ?? {} },
  });
  return res.items;
}

/** The full id of a pod from an id or unique prefix (as crictl resolves them). */
async function resolvePodId(clients: Clients, idOrPrefix: string): Promise<string> {
  const matches = await listPods(clients, { id: idOrPrefix });
  if (matches.length === 0) throw new CliError(`no such pod: ${idOrPrefix}`);
  if (matches.length > 1) throw new CliError(`pod id prefix "${idOrPrefix}" is ambiguous (${matches.length} pods)`);
  return matches[0]!.id;
}

/** crictl's pods table, newest first. */
export function printPodTable(pods: readonly PodSandbox[], isTruncated = true): void {
  printTable(
    ['pod id', 'created', 'state', 'name', 'namespace', 'attempt', 'runtime'],
    [...pods]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
      .map((p) => [
        isTruncated ? p.id.slice(0, 13) : p.id,
        ago(p.createdAt),
        stateName(p.state),
        p.metadata?.name ?? '',
        p.metadata?.namespace ?? '',
        String(p.metadata?.attempt ?? 0),
        p.runtimeHandler,
      ]),
  );
}

export function registerPods(program: Command): void {
  program
    .command('runp <config-file>')
    .description('Run a pod sandbox from a PodSandboxConfig file (JSON or YAML)')
    .option('-r, --runtime <handler>', 'runtime handler (runc, crun...)', '')
    .addHelpText('after', '\nExample:\n  berth runp pod.json\n')
    .action(async (file: string, opts: { runtime: string }, cmd: Command) => {
      const config = PodSandboxConfig.fromJSON(await readCriConfigFile(file));
      await withClients(cmd, async (clients) => {
        const res = await clients.call(clients.runtime.runPodSandbox.bind(clients.runtime), {
          config,
          runtimeHandler: opts.runtime,
        });
        process.stdout.write(`${res.podSandboxId}\n`);
      });
    });

  program
    .command('pods')
    .addOption(outputOption())
    .description('List pod sandboxes')
    .option('--id <id>', 'only pods whose id starts with this')
    .option('--name <name>', 'only pods with this name')
    .option('--pod-namespace <ns>', 'only pods in this Kubernetes namespace (-n is the containerd namespace)')
    .option('--state <state>', 'ready or notready')
    .option('--label <key=value...>', 'only pods with these labels', [])
    .option('-q, --quiet', 'print pod ids only', false)
    .option('--no-trunc', 'show full ids')
    .addHelpText('after', '\nExample:\n  berth pods --state ready --label app=web\n')
    .action(
      async (
        opts: {
          id?: string;
          name?: string;
          podNamespace?: string;
          state?: string;
          label: string[];
          quiet: boolean;
          trunc: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.state !== undefined && !/^(not)?ready$/i.test(opts.state)) {
          throw new CliError(`--state "${opts.state}" must be ready or notready`);
        }
        await withClients(cmd, async (clients, g) => {
          let pods = await listPods(clients, {
            ...(opts.id === undefined ? {} : { id: opts.id }),
            ...(opts.state === undefined ? {} : { state: opts.state }),
            labels: parseLabels(opts.label),
          });
          pods = pods.filter(
            (p) =>
              (opts.name === undefined || p.metadata?.name === opts.name) &&
              (opts.podNamespace === undefined || p.metadata?.namespace === opts.podNamespace),
          );
          pods.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
          if (opts.quiet) {
            process.stdout.write(pods.map((p) => `${p.id}\n`).join(''));
            return;
          }
          if (g.output !== 'table') {
            printData({ items: pods.map((p) => PodSandbox.toJSON(p)) }, g.output);
            return;
          }
          printPodTable(pods, opts.trunc);
        });
      },
    );

  program
    .command('inspectp <pod-id>')
    .addOption(outputOption())
    .description('Show the status of a pod sandbox, with its config and namespaces')
    .addHelpText('after', '\nExample:\n  berth inspectp 1a2b3c -o yaml\n')
    .action(async (idOrPrefix: string, _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const id = await resolvePodId(clients, idOrPrefix);
        const res = await clients.call(clients.runtime.podSandboxStatus.bind(clients.runtime), {
          podSandboxId: id,
          verbose: true,
        });
        const info = Object.fromEntries(Object.entries(res.info).map(([k, v]) => [k, JSON.parse(v) as unknown]));
        const doc = { status: res.status ? PodSandboxStatus.toJSON(res.status) : null, ...info };
        printData(doc, g.output === 'yaml' ? 'yaml' : 'json');
      });
    });

  program
    .command('stopp <pod-ids...>')
    .description('Stop pod sandboxes (their containers, network and namespaces)')
    .addHelpText('after', '\nExample:\n  berth stopp 1a2b3c\n')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        for (const idOrPrefix of ids) {
          const id = await resolvePodId(clients, idOrPrefix);
          await clients.call(clients.runtime.stopPodSandbox.bind(clients.runtime), { podSandboxId: id });
          process.stdout.write(`Stopped sandbox ${idOrPrefix}\n`);
        }
      });
    });

  program
    .command('rmp [pod-ids...]')
    .description('Remove pod sandboxes (stopping them first)')
    .option('-a, --all', 'remove every pod sandbox', false)
    .addHelpText('after', '\nExamples:\n  berth rmp 1a2b3c\n  berth rmp --all\n')
    .action(async (ids: string[], opts: { all: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const targets = opts.all ? (await listPods(clients, {})).map((p) => p.id) : ids;
        if (targets.length === 0 && !opts.all) throw new CliError('rmp needs at least one pod id (or --all)');
        for (const idOrPrefix of targets) {
          const id = await resolvePodId(clients, idOrPrefix);
          await clients.call(clients.runtime.removePodSandbox.bind(clients.runtime), { podSandboxId: id });
          process.stdout.write(`Removed sandbox ${idOrPrefix}\n`);
        }
      });
    });
}

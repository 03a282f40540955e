/** berth namespaces ls|create|rm: containerd-style namespaces on the admin service. */
import type { Command } from 'commander';
import { withClients } from '../context.js';
import { outputOption, printData, printTable } from '../output.js';

function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function registerNamespaces(program: Command): void {
  const ns = program
    .command('namespaces')
    .alias('ns')
    .description("Manage namespaces (k8s.io is CRI's)")
    .addHelpText('after', '\nExamples:\n  berth namespaces ls\n  berth ns create team-a\n');
  ns.command('ls')
    .addOption(outputOption())
    .alias('list')
    .description('List namespaces')
    .option('-q, --quiet', 'print names only', false)
    .addHelpText('after', '\nExample:\n  berth namespaces ls\n')
    .action(async (opts: { quiet: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.admin.listNamespaces.bind(clients.admin), {});
        if (opts.quiet) {
          process.stdout.write(res.namespaces.map((n) => `${n.name}\n`).join(''));
        } else if (g.output === 'table') {
          printTable(
            ['name', 'labels'],
            res.namespaces.map((n) => [n.name, formatLabels(n.labels)]),
          );
        } else {
          printData(res.namespaces, g.output);
        }
      });
    });
  ns.command('create <name>')
    .description('Create a namespace')
    .option('-l, --label <key=value...>', 'labels', [])
    .addHelpText('after', '\nExample:\n  berth namespaces create team-a --label owner=ops\n')
    .action(async (name: string, opts: { label: string[] }, cmd: Command) => {
      const labels = Object.fromEntries(
        opts.label.map((kv) => {
          const i = kv.indexOf('=');
          return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
        }),
      );
      await withClients(cmd, async (clients) => {
        await clients.call(clients.admin.createNamespace.bind(clients.admin), { name, labels });
        process.stdout.write(`${name}\n`);
      });
    });
  ns.command('rm <name...>')
    .alias('remove')
    .description('Remove empty namespaces')
    .addHelpText('after', '\nExample:\n  berth namespaces rm team-a\n')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        for (const name of names) {
          await clients.call(clients.admin.deleteNamespace.bind(clients.admin), { name });
          process.stdout.write(`${name}\n`);
        }
      });
    });
}

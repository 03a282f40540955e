/**
 * berth plugins: each part of the daemon (runtime binaries, conmon, CNI, snapshotter, cgroups, stream server,
 * metrics) with ok/error and a reason line: what was found, or what is wrong and what to do.
 */
import type { Command } from 'commander';
import { Plugin } from '../../api/gen/admin.js';
import { withClients } from '../context.js';
import { outputOption, printData, printTable } from '../output.js';

export function pluginRows(plugins: readonly Plugin[]): string[][] {
  return plugins.map((p) => [p.type, p.id, p.ready ? 'ok' : 'error', p.reason]);
}

export function registerPlugins(program: Command): void {
  program
    .command('plugins')
    .description('Show which parts of the daemon are ready, and why (not)')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  berth plugins\n  berth plugins -o json\n')
    .action(async (_opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.admin.listPlugins.bind(clients.admin), {});
        if (g.output === 'table') printTable(['type', 'id', 'status', 'reason'], pluginRows(res.plugins));
        else printData({ plugins: res.plugins.map((p) => Plugin.toJSON(p)) }, g.output);
      });
    });
}

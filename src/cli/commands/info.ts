/** berth info: the daemon's Status (conditions, and with the verbose info, the effective config), like crictl info. */
import type { Command } from 'commander';
import { StatusResponse } from '../../api/gen/cri.js';
import { withClients } from '../context.js';
import { outputOption, printData } from '../output.js';

/** crictl prints each verbose info value parsed as JSON when it is JSON; so do we. */
function parseInfo(info: Readonly<Record<string, string>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(info).map(([key, value]) => {
      try {
        return [key, JSON.parse(value) as unknown];
      } catch {
        return [key, value];
      }
    }),
  );
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .addOption(outputOption())
    .description('Show runtime and network readiness and the effective daemon config')
    .addHelpText('after', '\nExample:\n  berth info -o yaml\n')
    .action(async (_opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, opts) => {
        const res = await clients.call(clients.runtime.status.bind(clients.runtime), { verbose: true });
        const status = StatusResponse.toJSON({ ...res, info: {} }) as Record<string, unknown>;
        delete status['info'];
        printData({ ...status, ...parseInfo(res.info) }, opts.output === 'yaml' ? 'yaml' : 'json');
      });
    });
}

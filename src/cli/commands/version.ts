/** berth version: the client's version and the daemon's Version RPC, like crictl version. */
import type { Command } from 'commander';
import { readPackageInfo } from '../../base/version.js';
import { withClients } from '../context.js';
import { outputOption, printData } from '../output.js';

export function registerVersion(program: Command): void {
  program
    .command('version')
    .addOption(outputOption())
    .description('Show the berth client and berthd runtime versions')
    .addHelpText('after', '\nExample:\n  berth version -o json\n')
    .action(async (_opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, opts) => {
        const res = await clients.call(clients.runtime.version.bind(clients.runtime), { version: 'v1' });
        const data = { clientVersion: readPackageInfo().version, ...res };
        if (opts.output === 'table') {
          process.stdout.write(
            `Version:  ${res.version}\nRuntimeName:  ${res.runtimeName}\n` +
              `RuntimeVersion:  ${res.runtimeVersion}\nRuntimeApiVersion:  ${res.runtimeApiVersion}\n`,
          );
        } else {
          printData(data, opts.output);
        }
      });
    });
}

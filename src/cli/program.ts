/**
 * The berth command tree: global options and every command group. Built by a function (no side effects on
 * import) so tests and `berth completion` can walk it.
 */
import { Command, Option } from 'commander';
import { readPackageInfo } from '../base/version.js';
import { DEFAULT_ADDRESS } from './address.js';
import { CliError } from './errors.js';
import { registerVersion } from './commands/version.js';
import { registerInfo } from './commands/info.js';
import { registerConfig } from './commands/config.js';
import { registerNamespaces } from './commands/namespaces.js';
import { registerPods } from './commands/pods.js';
import { registerContainers } from './commands/containers.js';
import { registerStreams } from './commands/streams.js';
import { registerDemo } from './commands/demo.js';
import { registerEvents } from './commands/events.js';
import { registerImages } from './commands/images.js';
import { registerRun } from './commands/run.js';
import { registerCompletion } from './commands/completion.js';
import { registerInstall } from './commands/install.js';
import { registerContent } from './commands/content.js';
import { registerSnapshots } from './commands/snapshots.js';
import { registerPlugins } from './commands/plugins.js';

function parseSeconds(value: string): number {
  const n = Number(value.replace(/s$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`--timeout "${value}" must be a positive number of seconds`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Berth container runtime CLI')
    .version(readPackageInfo().version, '-v, --version', 'print the berth client version')
    .addOption(new Option('-a, --address <address>', 'berthd socket').env('BERTH_ADDRESS').default(DEFAULT_ADDRESS))
    .addOption(new Option('--timeout <seconds>', 'timeout of each call').argParser(parseSeconds).default(10))
    .addOption(
      new Option(
        '-n, --namespace <ns>',
        'namespace of images for pull, tag, push, save, load, prune (CRI: k8s.io)',
      ).default('k8s.io'),
    )
    .option('-D, --debug', 'print debug details on errors', false)
    // Global options go before the command (berth -a SOCK ps -a): -a is both --address and a command's --all.
    .enablePositionalOptions()
    .showHelpAfterError()
    .addHelpText('after', '\nExamples:\n  berth version\n  berth info -o yaml\n  berth config default\n');
  registerVersion(program);
  registerInfo(program);
  registerConfig(program);
  registerNamespaces(program);
  registerImages(program);
  registerPods(program);
  registerContainers(program);
  registerRun(program);
  registerStreams(program);
  registerDemo(program);
  registerEvents(program);
  registerContent(program);
  registerSnapshots(program);
  registerPlugins(program);
  registerInstall(program);
  registerCompletion(program);
  return program;
}

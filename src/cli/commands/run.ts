/**
 * berth run: crictl's `run CONTAINER_CONFIG POD_CONFIG` (start a container in a new pod, print its id), and
 * docker's `run [--rm] [-i] [-t] IMAGE [CMD...]` (a throw-away pod, the container's output streamed, its
 * exit code passed on; -i/-t attach berth's stdio and terminal). run-options.ts holds the mode rule and the configs; container-run.ts the lifecycle.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { PodSandboxConfig } from '../../api/gen/cri.js';
import { messageOf } from '../../base/errors.js';
import { withClients } from '../context.js';
import { ContainerRun } from '../container-run.js';
import type { AttachMode } from '../container-run.js';
import { containerConfigFromDoc, readCriConfigFile } from '../cri-config-file.js';
import { CliError } from '../errors.js';
import { outputOption, printData } from '../output.js';
import { runCommandSession } from '../stream-client.js';
import { withTerminal } from '../terminal.js';
import {
  DEFAULT_POD_LOG_ROOT,
  EXIT_RUN_FAILED,
  IMAGE_MODE_FLAGS,
  RUN_LABEL,
  RUN_POD_NAME_PREFIX,
  RUN_POD_NAMESPACE,
  buildImageRunConfigs,
  parseEnv,
  parseUser,
  parseVolume,
  selectRunMode,
} from '../run-options.js';
import type { ImageModeOption } from '../run-options.js';

export interface RunCliOptions {
  readonly runtime: string;
  readonly pull: boolean;
  readonly rm: boolean;
  readonly env: string[];
  readonly volume: string[];
  readonly name?: string;
  readonly workdir?: string;
  readonly user?: string;
  readonly entrypoint?: string;
  readonly net: 'pod' | 'host';
  readonly logRoot: string;
  readonly interactive: boolean;
  readonly tty: boolean;
}

const HELP = `
Two modes, chosen by the first argument:
  CONTAINER_CONFIG is an existing file: crictl's run. Runs the pod, pulls the image when it is missing,
    creates and starts the container, and prints its id. When a step fails after the pod was created, the
    pod is removed again (crictl leaves it behind).
  Anything else is IMAGE: docker's run. Runs CMD in a new pod ${RUN_POD_NAME_PREFIX}<8 hex> (or --name) in
    namespace ${RUN_POD_NAMESPACE}, labelled ${RUN_LABEL}=true; prints the container's stdout and stderr as it
    runs; exits with the container's exit code (${EXIT_RUN_FAILED}: berth failed, 126: CMD cannot be run, 127:
    CMD not found). Ctrl-C stops the container and exits 130. Without --rm the pod and the container stay,
    for berth logs and inspect.
  -i and -t are docker's: -i sends berth's stdin to the container (its stdin closes when berth's does, so
    \`echo hi | berth run -i --rm busybox cat\` ends); -t gives it a terminal (stderr joins stdout), and with
    -i on a terminal, keys go to the container as typed: Ctrl-C included, as in docker. Output then comes
    through attach (from before the start, nothing is missed) rather than the log file.
  A file named like an image wins: give the image with its tag (busybox:latest) to run the image.
  Options go before IMAGE; everything after IMAGE is CMD.

Examples:
  berth run container.yaml pod.yaml
  berth run --rm busybox echo hello
  berth run --rm -it busybox sh
  printf 'a\\nb\\n' | berth run -i --rm busybox wc -l
  berth run --rm -e GREETING=hi -v /srv/data:/data:ro busybox sh -c 'echo $GREETING; ls /data'
  berth run --name job1 --user 1000:1000 -w /tmp --net host busybox ls -l
`;

/** -i/-t: the attach session runs on berth's own stdio, the terminal in raw mode when there is one. */
function attachModeOf(opts: RunCliOptions): AttachMode {
  const terminal = { isInteractive: opts.interactive, isTty: opts.tty };
  return {
    ...terminal,
    runSession: (url, onOpen, signal) =>
      withTerminal(terminal, (streams) => runCommandSession(url, { ...streams, onOpen, signal })),
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function isExistingFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The run command with its options and help, without its action (unit tests parse with it). */
export function defineRunCommand(program: Command): Command {
  return (
    program
      .command('run')
      .usage('[options] CONTAINER_CONFIG POD_CONFIG | [options] IMAGE [CMD...]')
      .description('Run a container: from CRI config files (crictl), or IMAGE [CMD...] to its end (docker)')
      .argument('<args...>', 'CONTAINER_CONFIG POD_CONFIG, or IMAGE [CMD...]')
      // Everything after IMAGE is the container's command line, options included: `berth run busybox ls -l`.
      .passThroughOptions()
      .option('-r, --runtime <handler>', 'runtime handler (runc, crun...)', '')
      .option('--no-pull', 'do not pull the image when it is missing')
      .addOption(outputOption().default('table', 'the container id'))
      .option('--rm', 'IMAGE mode: remove the container and its pod when it exits', false)
      .option('-i, --interactive', "IMAGE mode: send stdin to the container (closed when berth's ends)", false)
      .option('-t, --tty', 'IMAGE mode: give the container a terminal (raw mode here with -i)', false)
      .option(
        '-e, --env <KEY=VALUE>',
        'IMAGE mode: set an environment variable (KEY alone: copy it from here)',
        collect,
        [],
      )
      .option('-v, --volume <SRC:DST[:ro]>', 'IMAGE mode: bind-mount a host path', collect, [])
      .option('--name <name>', 'IMAGE mode: name of the pod and the container')
      .option('-w, --workdir <dir>', 'IMAGE mode: working directory in the container')
      .option('-u, --user <uid[:gid]>', 'IMAGE mode: user (UID or name) and group (GID) to run as')
      .option('--entrypoint <command>', "IMAGE mode: run this instead of the image's entrypoint")
      .addOption(
        new Option('--net <mode>', "IMAGE mode: the pod's network (pod: CNI, host: the node's)")
          .choices(['pod', 'host'])
          .default('pod'),
      )
      .option('--log-root <dir>', 'IMAGE mode: where the pod log directory is made', DEFAULT_POD_LOG_ROOT)
      .addHelpText('after', HELP)
  );
}

export function registerRun(program: Command): void {
  defineRunCommand(program).action(async (args: string[], opts: RunCliOptions, cmd: Command) => {
    const given = (Object.keys(IMAGE_MODE_FLAGS) as ImageModeOption[]).filter(
      (key) => cmd.getOptionValueSource(key) === 'cli',
    );
    const mode = selectRunMode(args, isExistingFile, given);
    if (mode.kind === 'config') {
      const containerConfig = containerConfigFromDoc(await readCriConfigFile(mode.containerFile));
      const podConfig = PodSandboxConfig.fromJSON(await readCriConfigFile(mode.podFile));
      await withClients(cmd, async (clients, g) => {
        const run = new ContainerRun(clients, {
          podConfig,
          containerConfig,
          runtimeHandler: opts.runtime,
          shouldPull: opts.pull,
          shouldRemove: false,
        });
        const started = await run.start();
        if (g.output === 'table') process.stdout.write(`${started.containerId}\n`);
        else printData(started, g.output);
      });
      return;
    }
    if (cmd.getOptionValueSource('output') === 'cli') {
      throw new CliError('-o/--output is only for run CONTAINER_CONFIG POD_CONFIG (IMAGE mode prints the output)');
    }
    const { podConfig, containerConfig } = buildImageRunConfigs(
      {
        image: mode.image,
        command: mode.command,
        env: parseEnv(opts.env, process.env),
        volumes: opts.volume.map((v) => parseVolume(v, process.cwd())),
        ...(opts.name === undefined ? {} : { name: opts.name }),
        ...(opts.workdir === undefined ? {} : { workdir: opts.workdir }),
        ...(opts.user === undefined ? {} : { user: parseUser(opts.user) }),
        ...(opts.entrypoint === undefined ? {} : { entrypoint: opts.entrypoint }),
        isHostNetwork: opts.net === 'host',
        logRoot: opts.logRoot,
        isInteractive: opts.interactive,
        isTty: opts.tty,
      },
      (bytes) => randomBytes(bytes).toString('hex'),
    );
    try {
      await withClients(cmd, async (clients) => {
        const run = new ContainerRun(clients, {
          podConfig,
          containerConfig,
          runtimeHandler: opts.runtime,
          shouldPull: opts.pull,
          shouldRemove: opts.rm,
          ownedLogDirectory: podConfig.logDirectory,
          ...(opts.interactive || opts.tty ? { attach: attachModeOf(opts) } : {}),
        });
        process.exitCode = await run.runToExit();
      });
    } catch (err) {
      // docker's convention: 125 says "berth failed", so it never looks like the container's own exit 1.
      if (err instanceof CliError && err.exitCode !== 1) throw err;
      throw new CliError(messageOf(err), EXIT_RUN_FAILED);
    }
  });
}

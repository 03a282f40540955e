/**
 * berth install / berth uninstall: Berth as a node service (systemd unit, config, CNI conflist, crictl.yaml).
 * These work on the host's files, not through berthd; the logic is in ../node-install.ts.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { exec } from '../../base/exec.js';
import { pathExists } from '../../base/fs.js';
import { DEFAULT_CONFIG_PATH } from '../../config/index.js';
import { CliError } from '../errors.js';
import {
  DEFAULT_CRICTL_CONFIG,
  DEFAULT_UNIT_DIR,
  installNode,
  parseMountPoints,
  uninstallNode,
} from '../node-install.js';
import type { HostOps, InstallPaths } from '../node-install.js';
import { BERTHD_MAIN_PATH, oomScoreAdjFor } from '../service-unit.js';

const SYSTEMCTL_TIMEOUT_MS = 90_000;
const SYSTEMCTL_PATHS = Object.freeze(['/usr/bin/systemctl', '/bin/systemctl']);
const MIN_OOM_SCORE_ADJ = -1000;
const MAX_OOM_SCORE_ADJ = 1000;

interface PathOptions {
  readonly rootDir: string;
  readonly unitDir: string;
  readonly config: string;
  readonly crictlConfig: string;
  readonly systemctl: boolean;
  readonly force: boolean;
}

function absolute(flag: string): (value: string) => string {
  return (value) => {
    if (!isAbsolute(value)) throw new CliError(`${flag} "${value}" must be an absolute path`);
    return value;
  };
}

function parseOomScoreAdj(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_OOM_SCORE_ADJ || n > MAX_OOM_SCORE_ADJ) {
    throw new CliError(`--oom-score-adj "${value}" must be an integer from -1000 to 1000`);
  }
  return n;
}

/** The options install and uninstall share: where each file goes. */
function addPathOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--root-dir <dir>', 'put every path below under this directory (a staging tree)')
        .argParser((v) => resolve(v))
        .default('/'),
    )
    .addOption(
      new Option('--unit-dir <dir>', 'systemd unit directory')
        .argParser(absolute('--unit-dir'))
        .default(DEFAULT_UNIT_DIR),
    )
    .addOption(
      new Option('--config <path>', 'berthd config file').argParser(absolute('--config')).default(DEFAULT_CONFIG_PATH),
    )
    .addOption(
      new Option('--crictl-config <path>', "crictl's config file")
        .argParser(absolute('--crictl-config'))
        .default(DEFAULT_CRICTL_CONFIG),
    )
    .option('--no-systemctl', 'do not run systemctl, even when systemd is the init');
}

function pathsOf(opts: PathOptions): InstallPaths {
  return {
    rootDir: opts.rootDir,
    isStaging: opts.rootDir !== '/',
    unitDir: opts.unitDir,
    configPath: opts.config,
    crictlConfigPath: opts.crictlConfig,
  };
}

function hostOps(): HostOps {
  return {
    isRoot: () => process.getuid?.() === 0,
    initName: async () => (await readFile('/proc/1/comm', 'utf8').catch(() => 'unknown')).trim(),
    systemctl: async (args) => {
      let file: string | undefined;
      for (const path of SYSTEMCTL_PATHS) if (file === undefined && (await pathExists(path))) file = path;
      if (file === undefined) throw new CliError(`systemctl not found (${SYSTEMCTL_PATHS.join(', ')})`);
      const res = await exec({ file, args, timeoutMs: SYSTEMCTL_TIMEOUT_MS });
      if (res.exitCode !== 0) {
        throw new CliError(`systemctl ${args.join(' ')} failed: ${res.stderr.trim() || `exit ${res.exitCode}`}`);
      }
    },
    mountPoints: async () => parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')),
    say: (line) => process.stdout.write(`${line}\n`),
  };
}

export function registerInstall(program: Command): void {
  addPathOptions(
    program
      .command('install')
      .description(
        'Install berthd as a systemd service, with a default config and CNI network where none exist (root)',
      ),
  )
    .option('--crictl', "also write crictl's config pointing at Berth's socket", false)
    .option('--force', 'replace a unit or crictl config that differs (never the berthd config)', false)
    .option('--now', 'start berthd too (systemctl enable --now)', false)
    .addOption(
      new Option(
        '--berthd <path>',
        'the berthd executable for ExecStart (default: this installation, run by node)',
      ).argParser(absolute('--berthd')),
    )
    .addOption(
      new Option(
        '--oom-score-adj <n>',
        "berthd's OOMScoreAdjust (default: -999 if the host allows it, else none)",
      ).argParser(parseOomScoreAdj),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  berth install --now\n  berth install --crictl --force\n' +
        '  berth install --root-dir /tmp/stage --no-systemctl\n',
    )
    .action(
      async (
        opts: PathOptions & { crictl: boolean; now: boolean; berthd?: string; oomScoreAdj?: number },
      ): Promise<void> => {
        const procStatus = await readFile('/proc/self/status', 'utf8').catch(() => '');
        const ownScore = Number((await readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0')).trim()) || 0;
        await installNode(
          {
            ...pathsOf(opts),
            berthd: opts.berthd === undefined ? [process.execPath, BERTHD_MAIN_PATH] : [opts.berthd],
            oomScoreAdj: opts.oomScoreAdj ?? oomScoreAdjFor(procStatus, ownScore),
            isCrictl: opts.crictl,
            isForce: opts.force,
            isSystemctl: opts.systemctl,
            isNow: opts.now,
          },
          hostOps(),
        );
      },
    );

  addPathOptions(
    program
      .command('uninstall')
      .description(
        'Remove what berth install wrote (stops berthd; containers keep running); data stays unless --purge',
      ),
  )
    .option('--purge', 'also remove the config, the default CNI conflist, and the root and state directories', false)
    .option('--force', 'remove a berthd unit that berth install did not write', false)
    .addHelpText('after', '\nExamples:\n  berth uninstall\n  berth uninstall --purge\n')
    .action(async (opts: PathOptions & { purge: boolean }): Promise<void> => {
      await uninstallNode(
        { ...pathsOf(opts), isPurge: opts.purge, isForce: opts.force, isSystemctl: opts.systemctl },
        hostOps(),
      );
    });
}

#!/usr/bin/env node
/**
 * berthd: the Berth daemon. Serves CRI v1 (RuntimeService, ImageService) and Berth's admin service on a
 * unix socket. Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT) or --dry-run, 1 on a startup error.
 */
import { Command, Option } from 'commander';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from '../base/logger.js';
import type { LogFormat, LogLevel } from '../base/logger.js';
import { messageOf } from '../base/errors.js';
import { readPackageInfo } from '../base/version.js';
import { loadConfig, renderConfigToml } from '../config/index.js';
import { Daemon } from './daemon.js';

interface Options {
  readonly config?: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly dryRun: boolean;
}

async function main(): Promise<void> {
  const { version } = readPackageInfo();
  const program = new Command('berthd')
    .description('Berth container runtime daemon (CRI v1 on a unix socket)')
    .version(version, '-v, --version')
    .option('-c, --config <path>', 'config file (default /etc/berth/config.toml when it exists)')
    .addOption(new Option('-l, --log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--log-format <format>', 'json lines (for journald and log shippers) or text (for a terminal)')
        .choices(LOG_FORMATS)
        .default('json'),
    )
    .option('--dry-run', 'validate the config, print the effective config and exit', false)
    .addHelpText(
      'after',
      '\nExamples:\n  berthd --config /etc/berth/config.toml --log-level debug\n  berthd --log-format text\n',
    )
    .parse();
  const opts = program.opts<Options>();

  let config;
  try {
    ({ config } = await loadConfig(opts.config));
  } catch (err) {
    process.stderr.write(`berthd: ${messageOf(err)}\n`);
    process.exit(1);
  }
  if (opts.dryRun) {
    process.stdout.write(renderConfigToml(config));
    return;
  }

  const log = createLogger(opts.logLevel, 'berthd', opts.logFormat);
  const daemon = new Daemon({ config, log, version });
  let isStopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (isStopping) return;
    isStopping = true;
    log.info({ signal }, 'shutting down');
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err }, 'startup failed');
    process.stderr.write(`berthd: ${messageOf(err)}\n`);
    await daemon.close().catch(() => undefined);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`berthd: ${messageOf(err)}\n`);
  process.exit(1);
});

#!/usr/bin/env node
/**
 * `npm run bench` (scripts/bench.sh builds, then runs this): runs each benchmark against Berth and containerd,
 * prints the results table and appends it, with the machine and versions, to BENCHMARKS.md.
 *
 *   node dist/bench/main.js [--only NAME]... [--daemons berth,containerd] [--no-record] [--list]
 *                           [--berthd-cpu-prof DIR]
 *
 * Exit status 1 when a daemon is unavailable or any benchmark failed (then nothing is recorded), 2 on bad
 * arguments, 130 when interrupted.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchContext, Benchmark, Metric } from './benchmark.js';
import { BENCHMARKS } from './benchmarks/index.js';
import { DAEMON_NAMES, DaemonPool, makeDriver } from './daemons.js';
import type { DaemonDriver, DaemonName } from './daemons.js';
import { BENCHMARKS_MD } from './paths.js';
import { appendRun, machineInfo, runcVersion } from './record.js';
import { benchmarkRows, renderTable } from './table.js';
import type { Row } from './table.js';

const USAGE = `usage: npm run bench -- [options]

  --only NAME        run only this benchmark (repeatable, or comma-separated)
  --daemons LIST     daemons to run, comma-separated (default: ${DAEMON_NAMES.join(',')})
  --no-record        print the table without appending it to BENCHMARKS.md
  --berthd-cpu-prof DIR
                     run berthd with node --cpu-prof, writing a .cpuprofile per start into DIR
                     (implies --no-record: profiling slows berthd down)
  --list             list the benchmarks and exit
  -h, --help         this help
`;

class UsageError extends Error {}

interface Options {
  readonly benchmarks: readonly Benchmark[];
  readonly daemons: readonly DaemonName[];
  readonly isRecording: boolean;
  readonly isListing: boolean;
  readonly isHelp: boolean;
  /** Where berthd writes CPU profiles, when asked. */
  readonly cpuProfDir: string | undefined;
}

function splitList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function parseOptions(argv: readonly string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        only: { type: 'string', multiple: true },
        daemons: { type: 'string', multiple: true },
        'no-record': { type: 'boolean', default: false },
        'berthd-cpu-prof': { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values } = parsed;
  const only = splitList(values.only ?? []);
  for (const name of only) {
    if (!BENCHMARKS.some((b) => b.name === name)) {
      throw new UsageError(`unknown benchmark "${name}" (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
    }
  }
  const daemonNames = values.daemons === undefined ? [...DAEMON_NAMES] : splitList(values.daemons);
  for (const name of daemonNames) {
    if (!(DAEMON_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`unknown daemon "${name}" (known: ${DAEMON_NAMES.join(', ')})`);
    }
  }
  if (daemonNames.length === 0) throw new UsageError('--daemons needs at least one daemon');
  return {
    benchmarks: only.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => only.includes(b.name)),
    // Keep the canonical order (berth, containerd) whatever the order given.
    daemons: DAEMON_NAMES.filter((d) => daemonNames.includes(d)),
    isRecording: !values['no-record'] && values['berthd-cpu-prof'] === undefined,
    isListing: values.list,
    isHelp: values.help,
    cpuProfDir: values['berthd-cpu-prof'],
  };
}

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

async function runBenchmark(
  benchmark: Benchmark,
  drivers: readonly DaemonDriver[],
  pool: DaemonPool,
  errors: string[],
): Promise<Row[]> {
  const outcomes: Partial<Record<DaemonName, readonly Metric[] | 'error'>> = {};
  for (const driver of drivers) {
    const ctx: BenchContext = { driver, start: (options) => pool.start(driver, options), log };
    log(`${benchmark.name}: ${driver.label}…`);
    const startNs = process.hrtime.bigint();
    try {
      outcomes[driver.name] = await benchmark.run(ctx);
      log(
        `${benchmark.name}: ${driver.label} done in ${(Number(process.hrtime.bigint() - startNs) / 1e9).toFixed(1)} s`,
      );
    } catch (err) {
      outcomes[driver.name] = 'error';
      const message = err instanceof Error ? err.message : String(err);
      errors.push(`${benchmark.name} on ${driver.label}: ${message}`);
      log(`${benchmark.name}: ${driver.label} FAILED: ${message}`);
      await pool.stopAll();
    }
  }
  return benchmarkRows(benchmark.name, outcomes);
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options.isHelp) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.isListing) {
    const width = Math.max(...BENCHMARKS.map((b) => b.name.length));
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(width)}  ${b.description}\n`);
    return 0;
  }

  const cpuProfDir = options.cpuProfDir === undefined ? undefined : resolve(options.cpuProfDir);
  const drivers = options.daemons.map((name) =>
    makeDriver(name, cpuProfDir === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] }),
  );
  for (const driver of drivers) {
    const reason = await driver.unavailableReason();
    if (reason !== undefined) {
      const others = DAEMON_NAMES.filter((d) => d !== driver.name);
      log(`${driver.label} is unavailable: ${reason}; run the others only with --daemons ${others.join(',')}`);
      return 1;
    }
  }

  const pool = new DaemonPool();
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the daemons`);
    void pool.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const date = new Date();
  const errors: string[] = [];
  const rows: Row[] = [];
  try {
    for (const benchmark of options.benchmarks) rows.push(...(await runBenchmark(benchmark, drivers, pool, errors)));
  } finally {
    await pool.stopAll();
  }

  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n`);
  if (errors.length > 0) {
    log(`${errors.length} benchmark(s) failed; not recorded:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    return 1;
  }
  if (!options.isRecording) return 0;

  const versions: [string, string][] = [['node', process.version]];
  for (const driver of drivers) versions.push([driver.name, await driver.version()]);
  versions.push(['runc', await runcVersion()]);
  await appendRun(BENCHMARKS_MD, {
    date,
    machine: await machineInfo(),
    versions,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    table,
  });
  log(`recorded in ${BENCHMARKS_MD}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

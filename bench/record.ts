/**
 * BENCHMARKS.md: created with a short introduction on first use, then one dated section per recorded run
 * (machine, versions, command, results table) appended at the end, newest last.
 */
import { execFile } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface MachineInfo {
  /** uname -r */
  readonly kernel: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
}

export interface RunRecord {
  readonly date: Date;
  readonly machine: MachineInfo;
  /** name → version, in display order: node, berth, containerd, runc. */
  readonly versions: readonly (readonly [string, string])[];
  readonly command: string;
  readonly table: string;
}

export const INTRO = `# Berth benchmarks

Results of \`npm run bench\`, one section per recorded run, newest last. Each benchmark runs against Berth and,
in the same run on the same machine, against containerd 1.6 (Debian's \`containerd\` package, with its CRI
plugin) as the reference. Each daemon gets its own fresh temp root, state dir and socket for every start.

## How to run

    npm run bench                          # every benchmark, both daemons, appended here
    npm run bench -- --only cold-start     # one benchmark (repeat --only for more)
    npm run bench -- --daemons containerd  # one daemon (berth, containerd)
    npm run bench -- --no-record           # print the table only
    npm run bench -- --list                # the benchmarks and what they measure
    npm run bench -- --only container-start --daemons berth --berthd-cpu-prof /tmp/prof
                                           # CPU profiles of berthd (not recorded)

\`scripts/bench.sh\` runs \`npm ci\` if \`node_modules\` is missing, installs Debian's \`containerd\` if
\`/usr/bin/containerd\` is missing, builds with \`npm run build\`, then runs \`dist/bench/main.js\`. Run it as root
on an otherwise idle machine. The harness lives in \`bench/\`; each benchmark is one module in
\`bench/benchmarks/\`, whose header says exactly what it measures.

## How to read the tables

- One row per metric: \`<benchmark> <metric>\`, its unit, Berth's value, containerd's value, and the ratio
  Berth/containerd. Every metric so far is "lower is better", so a ratio below 1.00 means Berth wins.
- \`cold-start\`: time from spawning the daemon to its first successful CRI \`Version\` answer (polled every 5 ms),
  over 10 starts after one discarded warm-up start. \`version-rpc\`: latency of sequential CRI \`Version\` calls on
  one connection (1000 calls after 50 warm-up calls). \`idle-rss\`: VmRSS of the daemon process 2 s after it first
  answered, median of 3 starts.
- Percentiles interpolate linearly between ranks (numpy's default), so p50 is the median.
- Compare runs only on the same machine line: numbers depend on CPU, kernel and load. "error" means that
  benchmark failed for that daemon; such runs are not recorded. "not run" means the daemon was left out
  (\`--daemons\`).
`;

async function cpuModel(): Promise<string> {
  try {
    const text = await readFile('/proc/cpuinfo', 'utf8');
    const match = /^model name\s*:\s*(.+)$/m.exec(text);
    if (match) return match[1]!.trim();
  } catch {
    // fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

export async function machineInfo(): Promise<MachineInfo> {
  return {
    kernel: release(),
    cpuModel: await cpuModel(),
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
  };
}

/** `runc --version` first line is "runc version 1.1.5+ds1". */
export async function runcVersion(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('runc', ['--version'], {
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    const first = stdout.split('\n')[0] ?? '';
    return first.replace(/^runc version\s+/, '').trim() || 'unknown';
  } catch {
    return 'not installed';
  }
}

export function renderSection(run: RunRecord): string {
  const date = run.date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const m = run.machine;
  return [
    `## ${date}`,
    '',
    `- machine: Linux ${m.kernel}, ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory`,
    `- versions: ${run.versions.map(([name, version]) => `${name} ${version}`).join(', ')}`,
    `- command: \`${run.command}\``,
    '',
    run.table,
    '',
  ].join('\n');
}

/** Appends one section to path, creating the file with INTRO first when it does not exist. */
export async function appendRun(path: string, run: RunRecord): Promise<void> {
  let existing: string | undefined;
  try {
    existing = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing === undefined) {
    await writeFile(path, `${INTRO}\n${renderSection(run)}`);
    return;
  }
  const separator = existing.endsWith('\n\n') ? '' : existing.endsWith('\n') ? '\n' : '\n\n';
  await appendFile(path, `${separator}${renderSection(run)}`);
}

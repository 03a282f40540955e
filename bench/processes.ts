/**
 * The processes a daemon under test leaves running for its containers, and their memory, read from /proc.
 *
 * Per-container monitors: Berth's conmon (one per container; conmon double-forks, so it is no child of berthd,
 * and is recognised by its argv[0] and the daemon's temp dir in its arguments); containerd's
 * containerd-shim-runc-v2 (one per pod, found by the `-address <dir>/containerd.sock` it is started with) and
 * the pause process each pod's shim runs (a child of the shim whose argv[0] is /pause). Matching on the daemon's
 * own temp dir, never on a name alone, keeps other daemons on the machine (tests running beside the benchmark)
 * out of the figures.
 *
 * Memory comes from /proc/PID/smaps_rollup: Rss counts every resident page the process maps, so a sum over
 * processes counts shared pages (libc, the shim binary) once per process; Pss divides each shared page among
 * the processes mapping it, so a sum of Pss is what the group really costs.
 *
 * The parse and select functions are pure (unit-tested); readProcessTable and readMemory do the I/O.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { DaemonName } from './daemons.js';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** argv, from /proc/PID/cmdline (empty for kernel threads and zombies). */
  readonly argv: readonly string[];
}

export interface Memory {
  readonly rssKiB: number;
  readonly pssKiB: number;
}

export const NO_MEMORY: Memory = Object.freeze({ rssKiB: 0, pssKiB: 0 });

const CONMON = 'conmon';
const CONTAINERD_SHIM = 'containerd-shim-runc-v2';
const PAUSE_ARGV0 = '/pause';

/** Rss and Pss of /proc/PID/smaps_rollup text ("Rss:   1234 kB"); a missing field counts 0. */
export function parseSmapsRollup(text: string): Memory {
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0);
  return { rssKiB: field('Rss'), pssKiB: field('Pss') };
}

/**
 * The parent pid from /proc/PID/stat text: "PID (COMM) STATE PPID …". COMM may hold spaces and parentheses,
 * so the fields are counted after the last ')'. Undefined when the text does not have that shape.
 */
export function parseStatPpid(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) && ppid >= 0 ? ppid : undefined;
}

/** argv from /proc/PID/cmdline: NUL-separated, with a trailing NUL. */
export function parseCmdline(text: string): string[] {
  const argv = text.split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  return argv;
}

export function addMemory(a: Memory, b: Memory): Memory {
  return { rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB };
}

export function sumMemory(memories: readonly Memory[]): Memory {
  return memories.reduce(addMemory, NO_MEMORY);
}

export interface DaemonProcesses {
  /** Per-container (Berth) or per-pod (containerd) monitor processes. */
  readonly monitors: readonly number[];
  /** Infra processes the monitors run for the pods: containerd's pause; none for Berth. */
  readonly pauses: readonly number[];
}

/**
 * The monitors and pause processes of the daemon of this kind whose temp dir is dir. The workload itself (the
 * containers' own processes, children of the monitors too) is left out.
 */
export function selectDaemonProcesses(
  table: readonly ProcessInfo[],
  daemon: { readonly name: DaemonName; readonly dir: string },
): DaemonProcesses {
  const inDir = (arg: string): boolean => arg === daemon.dir || arg.startsWith(`${daemon.dir}/`);
  const argv0Is = (p: ProcessInfo, name: string): boolean => p.argv[0] !== undefined && basename(p.argv[0]) === name;
  switch (daemon.name) {
    case 'berth':
      return {
        monitors: table.filter((p) => argv0Is(p, CONMON) && p.argv.some(inDir)).map((p) => p.pid),
        pauses: [],
      };
    case 'containerd': {
      const address = `${daemon.dir}/containerd.sock`;
      const shims = table.filter((p) => {
        const at = p.argv.indexOf('-address');
        return argv0Is(p, CONTAINERD_SHIM) && at >= 0 && p.argv[at + 1] === address;
      });
      const shimPids = new Set(shims.map((p) => p.pid));
      return {
        monitors: shims.map((p) => p.pid),
        pauses: table.filter((p) => shimPids.has(p.ppid) && p.argv[0] === PAUSE_ARGV0).map((p) => p.pid),
      };
    }
    default: {
      const never: never = daemon.name;
      throw new Error(`unknown daemon ${String(never)}`);
    }
  }
}

/** Every process now running (those that exit while being read are left out). */
export async function readProcessTable(): Promise<ProcessInfo[]> {
  const table: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [stat, cmdline] = await Promise.all([
        readFile(`/proc/${name}/stat`, 'utf8'),
        readFile(`/proc/${name}/cmdline`, 'utf8'),
      ]);
      const ppid = parseStatPpid(stat);
      if (ppid !== undefined) table.push({ pid: Number(name), ppid, argv: parseCmdline(cmdline) });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** Rss and Pss of one process; NO_MEMORY when it has exited. */
export async function readMemory(pid: number): Promise<Memory> {
  try {
    return parseSmapsRollup(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {
    return NO_MEMORY;
  }
}

/** Summed Rss and Pss of the processes. */
export async function readTotalMemory(pids: readonly number[]): Promise<Memory> {
  return sumMemory(await Promise.all(pids.map(readMemory)));
}

export const kibToMib = (kib: number): number => kib / 1024;

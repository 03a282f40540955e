/**
 * A berth CLI process (or any command) run in the background, for tests that watch its output while it
 * runs, signal it, or feed its stdin; output is collected without spawnSync's 1 MiB cap.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { BERTH_MAIN } from './paths.js';

export interface Finished {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface Running {
  stdout(): string;
  readonly done: Promise<Finished>;
  /** The process's stdin, when started with isStdinPiped (otherwise it reads nothing: /dev/null). */
  readonly stdin: Writable | null;
  kill(signal: NodeJS.Signals): void;
  /** Closes our end of its stdout, as `| head` does once it has enough. */
  closeStdout(): void;
}

export interface StartOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly isStdinPiped?: boolean;
}

/** Starts `file args`; see startBerth for the CLI. */
export function startProcess(file: string, args: readonly string[], options: StartOptions = {}): Running {
  const child = spawn(file, args, {
    stdio: [options.isStdinPiped === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  // Piped above, whatever stdin is.
  const stdout = child.stdout!;
  const stderr = child.stderr!;
  const out: Buffer[] = [];
  let err = '';
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => (err += chunk));
  // A process that exits before reading all of its input must not fail the test with EPIPE.
  child.stdin?.on('error', () => undefined);
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out), stderr: err }));
  });
  return {
    stdout: () => Buffer.concat(out).toString(),
    done,
    stdin: child.stdin,
    kill: (signal) => child.kill(signal),
    closeStdout: () => stdout.destroy(),
  };
}

/** Starts the berth CLI with these arguments. */
export function startBerth(args: readonly string[], options: StartOptions = {}): Running {
  return startProcess(process.execPath, [BERTH_MAIN, ...args], options);
}

/** Polls check until it holds; fails after timeoutMs naming what it waited for. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

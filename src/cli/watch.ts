/**
 * The refresh loop of `--watch` (berth stats -w): render, show, sleep, until SIGINT or SIGTERM, which end
 * it normally (exit 0, like watch(1)). On a terminal each frame replaces the last (cursor home, clear
 * screen); piped, frames follow each other, each after a timestamp line, so a log of them stays readable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from './errors.js';

/** Moves the cursor home and clears the screen (ECMA-48 CUP + ED 2). */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export interface WatchOptions {
  readonly intervalMs: number;
  readonly out: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly now?: () => Date;
}

/** One frame as written: the header line with the time, then the rendered text. */
export function watchFrame(text: string, intervalMs: number, isTty: boolean, now: Date): string {
  const header = `Every ${intervalMs / 1000}s: ${now.toISOString()}\n`;
  return isTty ? `${CLEAR_SCREEN}${header}\n${text}` : `${header}${text}\n`;
}

/** Parses --interval: seconds, more than zero (fractions allowed). */
export function parseIntervalMs(value: string): number {
  const seconds = Number(value.replace(/s$/, ''));
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new CliError(`--interval "${value}" must be a positive number of seconds`);
  return Math.round(seconds * 1000);
}

/**
 * Renders and writes a frame every intervalMs until a signal. A render in flight when the signal comes is
 * finished, not shown: the frame would be stale.
 */
export async function watchLoop(render: () => Promise<string>, options: WatchOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const now = options.now ?? (() => new Date());
  try {
    while (!stop.signal.aborted) {
      const text = await render();
      if (stop.signal.aborted) break;
      options.out.write(watchFrame(text, options.intervalMs, options.out.isTTY === true, now()));
      await sleep(options.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

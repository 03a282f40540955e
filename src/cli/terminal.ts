/**
 * The local end of an interactive stream session (berth exec, attach, run -i/-t): which of berth's own stdio
 * the session uses, the local terminal in raw mode for a TTY session (so Ctrl-C, Ctrl-D and arrow keys go to
 * the container as bytes), and the window size with its changes (SIGWINCH). Shared by the commands so they
 * all give the terminal back the same way, whatever happens.
 */
import type { CommandStreams } from './stream-client.js';

export interface TerminalOptions {
  /** Send berth's stdin to the container (-i). */
  readonly isInteractive: boolean;
  /** The container side has a terminal (-t). */
  readonly isTty: boolean;
}

/**
 * Runs fn with the session's streams. Raw mode only when there is a terminal to put in it: with -t and -i
 * and stdin a TTY; with stdin piped, -t still gives the container a terminal and the bytes pass as they are.
 */
export async function withTerminal<T>(
  options: TerminalOptions,
  fn: (streams: CommandStreams) => Promise<T>,
): Promise<T> {
  const isRaw = options.isTty && options.isInteractive && process.stdin.isTTY;
  if (isRaw) process.stdin.setRawMode(true);
  try {
    return await fn({
      stdin: options.isInteractive ? process.stdin : undefined,
      stdout: process.stdout,
      stderr: process.stderr,
      ...(options.isTty
        ? {
            terminal: {
              size: () =>
                process.stdout.isTTY ? { width: process.stdout.columns, height: process.stdout.rows } : undefined,
              onResize: (handler: () => void) => {
                process.on('SIGWINCH', handler);
                return () => process.off('SIGWINCH', handler);
              },
            },
          }
        : {}),
    });
  } finally {
    if (isRaw) process.stdin.setRawMode(false);
    // A stdin still open (a terminal) must not keep berth running once the session is over.
    if (options.isInteractive) process.stdin.pause();
  }
}

/**
 * The process logger: pino, JSON lines to stderr (or readable text lines, for a daemon in a terminal).
 * Services get a child logger through their constructor; nothing logs through a module-level instance.
 */
import { writeSync } from 'node:fs';
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import { formatLogLine } from './log-text.js';

export type Logger = PinoLogger;

export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export const LOG_FORMATS = Object.freeze(['json', 'text'] as const);
export type LogFormat = (typeof LOG_FORMATS)[number];

const STDERR_FD = 2;

/** Text lines on fd 2, written synchronously like the JSON destination. */
function textDestination(): DestinationStream {
  return { write: (line: string) => void writeSync(STDERR_FD, formatLogLine(line)) };
}

export function createLogger(level: LogLevel, name = 'berthd', format: LogFormat = 'json'): Logger {
  // Synchronous writes to fd 2: a daemon that exits on a signal or a fatal error must not lose its last lines.
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      redact: { paths: ['*.password', '*.auth', '*.identityToken', '*.registryToken'], censor: '[redacted]' },
    },
    format === 'text' ? textDestination() : pino.destination({ fd: STDERR_FD, sync: true }),
  );
}

/**
 * The process logger: pino, JSON lines to stderr. Services get a child logger through their constructor;
 * nothing logs through a module-level instance.
 */
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(level: LogLevel, name = 'berthd'): Logger {
  // Synchronous writes to fd 2: a daemon that exits on a signal or a fatal error must not lose its last lines.
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      redact: { paths: ['*.password', '*.auth', '*.identityToken', '*.registryToken'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

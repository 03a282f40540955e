/**
 * Named crash points, for crash tests only (test/integration/containers/crash-recovery.test.ts): the test starts
 * berthd with BERTH_CRASH_POINT=<name>[,<name>...], and the first armed point the daemon reaches writes one line
 * to stderr and SIGKILLs the process on the spot, as a power cut or an OOM kill would. That proves the recovery at
 * startup cleans up whatever a mutation had half done at exactly that step.
 *
 * The variable is read once, when the module loads, into an immutable set: an unarmed crashPoint() is one Set
 * lookup, so the calls stay in production builds at no measurable cost. Nobody sets the variable outside tests.
 */
import { writeSync } from 'node:fs';

export const CRASH_POINT_ENV = 'BERTH_CRASH_POINT';

const STDERR_FD = 2;

/** The names in a comma-separated list (blanks ignored). */
export function parseCrashPoints(value: string | undefined): ReadonlySet<string> {
  return new Set((value ?? '').split(',').flatMap((name) => (name.trim() === '' ? [] : [name.trim()])));
}

const ARMED: ReadonlySet<string> = parseCrashPoints(process.env[CRASH_POINT_ENV]);

/** The line written to stderr before dying: tests look for it to tell an injected crash from a real one. */
export function crashPointMessage(name: string): string {
  return `berthd: crash point ${name} reached: SIGKILL\n`;
}

/** Whether name is armed: for a crash point that costs more than a lookup to place (a wrapped stream). */
export function isCrashPointArmed(name: string): boolean {
  return ARMED.has(name);
}

/** Dies at once (SIGKILL, no cleanup, no flush) when name is armed in BERTH_CRASH_POINT; otherwise nothing. */
export function crashPoint(name: string): void {
  if (!ARMED.has(name)) return;
  // Synchronous: an async stderr write would be lost with the process.
  writeSync(STDERR_FD, crashPointMessage(name));
  process.kill(process.pid, 'SIGKILL');
}

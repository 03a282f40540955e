/**
 * Readiness probe of a runtime binary (runc, crun, conmon) for `berth plugins`: it is ready when `BINARY
 * --version` runs and exits 0. The version is the first line of its output ("runc version 1.1.5", "conmon
 * version 2.1.6"), which is what every one of them prints first.
 */
import type { ProbeResult } from '../base/condition.js';
import { messageOf } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import { stderrTail } from '../base/exec.js';

const VERSION_TIMEOUT_MS = 5000;
const MAX_VERSION_OUTPUT_BYTES = 64 * 1024;

/** The first non-empty line of `--version` output, '' when there is none. */
export function versionLine(output: string): string {
  return (
    output
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

export async function probeBinary(exec: Exec, path: string): Promise<ProbeResult> {
  try {
    const res = await exec({
      file: path,
      args: ['--version'],
      timeoutMs: VERSION_TIMEOUT_MS,
      maxOutputBytes: MAX_VERSION_OUTPUT_BYTES,
    });
    if (res.exitCode !== 0) {
      return {
        isReady: false,
        reason: `${path} --version exited with ${res.exitCode ?? res.signal}: ${stderrTail(res.stderr, 200)}`,
        details: { path },
      };
    }
    const version = versionLine(res.stdout);
    return { isReady: true, reason: `${path}: ${version}`, details: { path, version } };
  } catch (err) {
    return { isReady: false, reason: messageOf(err), details: { path } };
  }
}

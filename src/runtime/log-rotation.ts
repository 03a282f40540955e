/**
 * The container log rotation policy, as the kubelet's container log manager applies it
 * (pkg/kubelet/logs/container_log_manager.go), kept pure so it is tested without files or clocks:
 *
 *   <log>                        the live file conmon writes
 *   <log>.<YYYYMMDD-HHMMSS>      the newest rotated file, left plain (a reader may still be draining it)
 *   <log>.<YYYYMMDD-HHMMSS>.gz   older rotated files, compressed at the next rotation
 *   <log>.<YYYYMMDD-HHMMSS>.tmp  a compression that did not finish (removed)
 *
 * A rotation: remove leftovers (*.tmp, and a plain file whose .gz exists: its compression finished but the
 * removal did not), remove the oldest rotated files so that after this rotation at most max_files files exist
 * counting the live one, compress every rotated file still plain, then rename the live file to
 * <log>.<timestamp> and have conmon reopen <log>. Timestamps are local time, as the kubelet's are.
 *
 * Two rotations within one second would give the same name, and the second rename or compression would
 * overwrite the first's file: that rotation is skipped and happens at the next check instead.
 */

import { ROTATED_LOG_SUFFIX } from '../base/rotated-log-names.js';

export type LogRotationMode = 'auto' | 'always' | 'never';

/** The kubelet sets this label on every pod sandbox it creates (kubelet/types.KubernetesPodUIDLabel). */
export const KUBELET_POD_UID_LABEL = 'io.kubernetes.pod.uid';

const GZ = '.gz';
const TMP = '.tmp';

/**
 * Whether Berth rotates the logs of a pod's containers. "auto" leaves a kubelet's pods to the kubelet (it
 * rotates them itself, and two rotators on one file would race); "always" is for nodes whose kubelet does not
 * rotate (containerLogMaxSize "-1" or no kubelet at all).
 */
export function isRotatedByBerth(mode: LogRotationMode, podLabels: Readonly<Record<string, string>>): boolean {
  switch (mode) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'auto':
      return !(KUBELET_POD_UID_LABEL in podLabels);
    default:
      return assertNever(mode);
  }
}

/** `YYYYMMDD-HHMMSS` in local time: Go's "20060102-150405" layout of time.Now(), as the kubelet names files. */
export function rotationTimestamp(at: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${String(at.getFullYear()).padStart(4, '0')}${two(at.getMonth() + 1)}${two(at.getDate())}-` +
    `${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`
  );
}

export interface RotationPlan {
  /** Names to delete, oldest first (so a reader of an older file keeps it as long as possible). */
  readonly remove: readonly string[];
  /** Rotated files to gzip into `<name>.gz` (then delete the plain file). */
  readonly compress: readonly string[];
  /** What the live file is renamed to; undefined: a file of that name exists, skip this rotation. */
  readonly rotateTo: string | undefined;
}

/**
 * What one rotation of `liveName` does, given the names in its directory (any names: only the ones a rotation
 * made are considered), `maxFiles` (>= 2, the live file included) and the time of the rotation. All names
 * are base names in the log's directory.
 */
export function planRotation(liveName: string, dirNames: readonly string[], maxFiles: number, at: Date): RotationPlan {
  const prefix = `${liveName}.`;
  const ours = dirNames.filter((n) => n.startsWith(prefix) && ROTATED_LOG_SUFFIX.test(n.slice(prefix.length)));
  const rotateTo = `${prefix}${rotationTimestamp(at)}`;
  if (ours.some((n) => n === rotateTo || n.startsWith(`${rotateTo}.`))) {
    return { remove: [], compress: [], rotateTo: undefined };
  }
  const names = new Set(ours);
  const unused = ours.filter((n) => n.endsWith(TMP) || (!n.endsWith(GZ) && names.has(`${n}${GZ}`)));
  const inUse = ours.filter((n) => !unused.includes(n)).sort();
  // After this rotation: the new live file, the file rotated now, and at most maxFiles - 2 older ones.
  const keep = Math.max(0, maxFiles - 2);
  const excess = inUse.slice(0, Math.max(0, inUse.length - keep));
  const kept = inUse.slice(excess.length);
  return {
    remove: [...unused.sort(), ...excess],
    compress: kept.filter((n) => !n.endsWith(GZ)),
    rotateTo,
  };
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}

/**
 * The names the kubelet (and Berth's own rotator, runtime/log-rotation.ts) give a container log's rotated
 * files, for both sides that need them: the rotator, and `berth logs -f`, which must find the files it
 * missed when rotations outran it.
 *
 *   <log>.<YYYYMMDD-HHMMSS>        a rotated file, plain
 *   <log>.<YYYYMMDD-HHMMSS>.gz     the same, compressed at a later rotation
 *   <log>.<YYYYMMDD-HHMMSS>[.gz].tmp  a compression under way (not a complete file)
 */

/** The suffix after "<log>." of every file a rotation made: timestamp, then .gz and/or .tmp. */
export const ROTATED_LOG_SUFFIX = /^\d{8}-\d{6}(\.gz)?(\.tmp)?$/;

export interface RotatedLog {
  /** `YYYYMMDD-HHMMSS`: names sort in rotation order (the rotator never makes two in one second). */
  readonly stamp: string;
  /** The base name to read: the plain file while it exists (a compression may be under way), else the .gz. */
  readonly name: string;
  readonly isCompressed: boolean;
}

/** The complete rotated files of liveName among dirNames (base names), oldest first. */
export function rotatedLogsOf(liveName: string, dirNames: readonly string[]): RotatedLog[] {
  const prefix = `${liveName}.`;
  const byStamp = new Map<string, { plain?: string; gz?: string }>();
  for (const name of dirNames) {
    if (!name.startsWith(prefix)) continue;
    const suffix = name.slice(prefix.length);
    const m = ROTATED_LOG_SUFFIX.exec(suffix);
    if (m === null || m[2] !== undefined) continue; // not ours, or a .tmp
    const stamp = suffix.slice(0, 15);
    const entry = byStamp.get(stamp) ?? {};
    if (m[1] === undefined) entry.plain = name;
    else entry.gz = name;
    byStamp.set(stamp, entry);
  }
  return [...byStamp.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([stamp, e]) =>
      e.plain !== undefined
        ? { stamp, name: e.plain, isCompressed: false }
        : { stamp, name: e.gz!, isCompressed: true },
    );
}

/** Human-readable values shared by the CLI's commands. */

/** Sizes like crictl: 1.06MB (decimal units). */
export function humanSize(bytes: bigint): string {
  const n = Number(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let u = 0;
  while (value >= 1000 && u < units.length - 1) {
    value /= 1000;
    u++;
  }
  return u === 0 ? `${n}B` : `${value.toPrecision(3)}${units[u]}`;
}

/** "5 seconds ago", "3 minutes ago"... from a nanosecond timestamp, like crictl's CREATED column. */
export function ago(createdAtNs: bigint, nowMs = Date.now()): string {
  const seconds = Math.max(0, Math.floor((nowMs - Number(createdAtNs / 1_000_000n)) / 1000));
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  if (seconds < 1) return 'Less than a second ago';
  for (const [size, name] of units) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'Less than a second ago';
}

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

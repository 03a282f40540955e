/**
 * Per-interface traffic counters of a network namespace, from /proc/<pid>/net/dev of any process inside it
 * (a pod's container): no setns and no child process per poll.
 */
import { readFile } from 'node:fs/promises';

export interface InterfaceUsage {
  readonly name: string;
  readonly rxBytes: number;
  readonly rxErrors: number;
  readonly txBytes: number;
  readonly txErrors: number;
}

/** /proc/net/dev: two header lines, then "name: rx_bytes rx_packets rx_errs ... tx_bytes tx_packets tx_errs ...". */
export function parseNetDev(text: string): InterfaceUsage[] {
  const out: InterfaceUsage[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (name === 'lo' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({ name, rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! });
  }
  return out;
}

/** undefined when the process is gone. */
export async function readNetDev(pid: number): Promise<InterfaceUsage[] | undefined> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseNetDev(text);
}

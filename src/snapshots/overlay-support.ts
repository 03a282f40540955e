/**
 * Can this kernel mount overlayfs? `berth plugins` asks before the overlayfs snapshotter is first needed. The
 * kernel lists the filesystems it can mount in /proc/filesystems ("nodev\toverlay"); a module that is not
 * loaded is missing there until `modprobe overlay`.
 */
import { readFile } from 'node:fs/promises';
import type { ProbeResult } from '../base/condition.js';
import type { SnapshotterKind } from './snapshotter.js';

/** Whether /proc/filesystems text lists overlay. */
export function listsOverlay(procFilesystems: string): boolean {
  return procFilesystems.split('\n').some((line) => line.trim().split(/\s+/).at(-1) === 'overlay');
}

export async function probeSnapshotter(
  kind: SnapshotterKind,
  root: string,
  procFilesystemsPath = '/proc/filesystems',
): Promise<ProbeResult> {
  const details = { kind, root };
  if (kind === 'native') return { isReady: true, reason: `native (copies) at ${root}`, details };
  const text = await readFile(procFilesystemsPath, 'utf8').catch(() => '');
  if (!listsOverlay(text)) {
    return {
      isReady: false,
      reason: `overlay is not in ${procFilesystemsPath}: run "modprobe overlay", or set [plugins.cri.containerd] snapshotter = "native"`,
      details,
    };
  }
  return { isReady: true, reason: `overlayfs at ${root} (the kernel lists overlay)`, details };
}

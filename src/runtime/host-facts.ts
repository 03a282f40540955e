/**
 * What the OCI spec needs from the host, read once at startup: berthd's capability bounding set (a container
 * can never get more; this machine's root lacks CAP_SYS_RESOURCE), berthd's oom_score_adj (the floor for
 * containers, since lowering it needs CAP_SYS_RESOURCE), and the host's device nodes for privileged containers.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OciDevice } from './oci-types.js';

/** Linux capability names by bit number (linux/capability.h). */
export const CAPABILITY_NAMES = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

/** The names of the bits set in a /proc/PID/status capability mask ("000001fffeffffff"). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n).sort();
}

export async function boundingCapabilities(statusPath = '/proc/self/status'): Promise<string[]> {
  const text = await readFile(statusPath, 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  return hex === undefined ? [] : capabilitiesFromMask(hex);
}

export async function ownOomScoreAdj(path = '/proc/self/oom_score_adj'): Promise<number> {
  const value = Number((await readFile(path, 'utf8').catch(() => '0')).trim());
  return Number.isInteger(value) ? value : 0;
}

/** Character and block devices under /dev (one level of subdirectories), as OCI devices. */
export async function hostDevices(root = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const visit = async (dir: string, depth: number): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth === 0 && entry.name !== 'pts' && entry.name !== 'shm' && entry.name !== 'mqueue') {
          await visit(path, depth + 1);
        }
        continue;
      }
      if (!entry.isCharacterDevice() && !entry.isBlockDevice()) continue;
      if (path === join(root, 'console') || path === join(root, 'ptmx')) continue;
      const st = await stat(path).catch(() => undefined);
      if (st === undefined) continue;
      out.push({
        path,
        type: entry.isBlockDevice() ? 'b' : 'c',
        major: Number((BigInt(st.rdev) >> 8n) & 0xfffn),
        minor: Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n)),
        fileMode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
      });
    }
  };
  await visit(root, 0);
  return out;
}

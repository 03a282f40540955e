/**
 * A pod's namespaces without a pause process (DESIGN.md): util-linux `unshare --net=FILE --ipc=FILE --uts=FILE`
 * creates them and bind-mounts each onto a file, so they live on after the short-lived unshare process, and after
 * berthd restarts, until released (umount + unlink). The pod's /dev/shm is a tmpfs mounted beside them.
 * Sysctls are written inside the namespaces through nsenter, since Node cannot setns(2).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import { describeArgv, stderrTail } from '../base/exec.js';

export interface PinnedNamespaces {
  /** Bind-mounted namespace files; absent where the pod uses the node's namespace. */
  readonly net?: string;
  readonly ipc?: string;
  readonly uts?: string;
}

export interface PinRequest {
  readonly net: boolean;
  readonly ipc: boolean;
  readonly uts: boolean;
  /** Set inside the new UTS namespace. */
  readonly hostname: string;
}

export interface NamespaceToolPaths {
  readonly catatonit: string;
  readonly unshare: string;
  readonly nsenter: string;
  readonly mount: string;
  readonly umount: string;
  readonly hostname: string;
}

const DEFAULT_PATHS: NamespaceToolPaths = {
  catatonit: '/usr/bin/catatonit',
  unshare: '/usr/bin/unshare',
  nsenter: '/usr/bin/nsenter',
  mount: '/usr/bin/mount',
  umount: '/usr/bin/umount',
  hostname: '/usr/bin/hostname',
};
const TOOL_TIMEOUT_MS = 30_000;
/** containerd's default /dev/shm: 64 MiB, sticky and world-writable like the node's. */
export const SHM_OPTIONS = 'mode=1777,size=65536k,nosuid,nodev,noexec';

/** Mount points from /proc/self/mountinfo (field 5, octal escapes decoded). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return new Set(text.split('\n').flatMap((line) => (line === '' ? [] : [unescape(line.split(' ')[4] ?? '')])));
}

export class PodNamespaces {
  private readonly paths: NamespaceToolPaths;

  constructor(
    private readonly exec: Exec,
    private readonly spawnDetached: (file: string, args: readonly string[]) => Promise<number>,
    paths: Partial<NamespaceToolPaths> = {},
  ) {
    this.paths = { ...DEFAULT_PATHS, ...paths };
  }

  /** Creates and pins the asked namespaces under dir (files net, ipc, uts). */
  async pin(dir: string, req: PinRequest): Promise<PinnedNamespaces> {
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const pinned: { net?: string; ipc?: string; uts?: string } = {};
    const args: string[] = [];
    for (const kind of ['net', 'ipc', 'uts'] as const) {
      if (!req[kind]) continue;
      const file = join(dir, kind);
      await writeFile(file, '', { mode: 0o444 }); // a bind mount needs an existing file
      pinned[kind] = file;
      args.push(`--${kind}=${file}`);
    }
    if (args.length === 0) return pinned;
    const command = req.uts ? [this.paths.hostname, req.hostname] : ['/bin/true'];
    try {
      await this.run(this.paths.unshare, [...args, '--', ...command]);
    } catch (err) {
      await this.release(pinned);
      throw err;
    }
    return pinned;
  }

  /** Unmounts and removes the namespace files; idempotent (missing or unmounted files are fine). */
  async release(pinned: PinnedNamespaces): Promise<void> {
    for (const file of [pinned.net, pinned.ipc, pinned.uts]) {
      if (file === undefined) continue;
      await this.unmountIfMounted(file);
      await rm(file, { force: true });
    }
  }

  /** Every mount point now: one read of the mount table to check many pinned files (startup recovery). */
  async mountedPaths(): Promise<ReadonlySet<string>> {
    return mountPoints();
  }

  async mountShm(target: string): Promise<void> {
    await mkdir(target, { recursive: true, mode: 0o1777 });
    if ((await mountPoints()).has(target)) return;
    await this.run(this.paths.mount, ['-t', 'tmpfs', '-o', SHM_OPTIONS, 'shm', target]);
  }

  /** Unmounts every mount stacked on target; a busy one is detached lazily so the pod's removal never sticks. */
  async unmountIfMounted(target: string): Promise<void> {
    for (let i = 0; i < 8 && (await mountPoints()).has(target); i++) {
      const res = await this.exec({ file: this.paths.umount, args: [target], timeoutMs: TOOL_TIMEOUT_MS });
      if (res.exitCode !== 0 && /busy/i.test(res.stderr)) await this.run(this.paths.umount, ['-l', target]);
      else if (res.exitCode !== 0) {
        throw new BerthError(
          'INTERNAL',
          `${describeArgv(this.paths.umount, [target])} failed: ${stderrTail(res.stderr)}`,
        );
      }
    }
  }

  /**
   * A PID namespace shared by the pod's containers (pid: POD) needs a live init: catatonit in pause mode, which
   * reaps zombies, started by `unshare --pid --fork --kill-child` in its own session so it outlives berthd.
   * Returns the init's pid (PID 1 inside); its namespace is /proc/<pid>/ns/pid.
   */
  async startPidInit(): Promise<number> {
    const unsharePid = await this.spawnDetached(this.paths.unshare, [
      '--pid',
      '--fork',
      '--kill-child',
      '--',
      this.paths.catatonit,
      '-P',
    ]);
    // unshare forks the init into the new namespace: find that child of it.
    for (let i = 0; i < 100; i++) {
      const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').catch(() => '');
      const pid = Number(children.trim().split(/\s+/)[0]);
      if (Number.isInteger(pid) && pid > 0) return pid;
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      process.kill(unsharePid, 'SIGKILL');
    } catch {
      // already gone
    }
    throw new BerthError('INTERNAL', `the pod PID namespace init did not start (${this.paths.catatonit} -P)`);
  }

  /** Whether pid is still a pod init (after a restart, or a reused pid). */
  async isPidInit(pid: number): Promise<boolean> {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    return comm.trim() === 'catatonit';
  }

  /** Ends a pod's PID namespace: its init, and with it (--kill-child, PID 1 exit) everything inside. */
  async stopPidInit(pid: number): Promise<void> {
    if (!(await this.isPidInit(pid))) return;
    const parent = Number(
      ((await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1] ?? '').split(' ')[1],
    );
    for (const p of [pid, parent]) {
      if (!Number.isInteger(p) || p <= 1) continue;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Writes each sysctl (names already checked) inside the pod's namespaces. */
  async applySysctls(pinned: PinnedNamespaces, sysctls: Readonly<Record<string, string>>): Promise<void> {
    const entries = Object.entries(sysctls);
    if (entries.length === 0) return;
    const nsArgs = [
      ...(pinned.net ? [`--net=${pinned.net}`] : []),
      ...(pinned.ipc ? [`--ipc=${pinned.ipc}`] : []),
      ...(pinned.uts ? [`--uts=${pinned.uts}`] : []),
    ];
    for (const [name, value] of entries) {
      const path = `/proc/sys/${name.replaceAll('.', '/')}`;
      // The value is an argument, never part of the script: no shell injection whatever it holds.
      const res = await this.exec({
        file: this.paths.nsenter,
        args: [...nsArgs, '--', '/bin/sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', value, path],
        timeoutMs: TOOL_TIMEOUT_MS,
      });
      if (res.exitCode !== 0) {
        throw new BerthError('INVALID_ARGUMENT', `sysctl ${name}=${value}: ${stderrTail(res.stderr).trim()}`);
      }
    }
  }

  private async run(file: string, args: string[]): Promise<void> {
    const res = await this.exec({ file, args, timeoutMs: TOOL_TIMEOUT_MS });
    if (res.exitCode !== 0) {
      throw new BerthError('INTERNAL', `${describeArgv(file, args)} failed: ${stderrTail(res.stderr)}`);
    }
  }
}

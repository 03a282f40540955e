/**
 * What the container service needs from the low-level runtime (runc/crun under conmon), as one interface: the
 * daemon adapts the OCI runtime, conmon launcher and exit watcher to it. Keeping it narrow lets the service's
 * state machine be tested apart from the binaries.
 */
import type { InteractiveProcess } from '../base/interactive-process.js';

export interface CreateRequest {
  readonly id: string;
  readonly bundleDir: string;
  readonly runtimeHandler: string;
  /** '' when the container has no log file. */
  readonly logPath: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdinOnce: boolean;
}

export interface RuntimeState {
  readonly status: 'created' | 'running' | 'stopped' | 'unknown';
  readonly pid: number;
}

export interface ContainerExit {
  readonly id: string;
  readonly exitCode: number;
  readonly finishedAtNs: bigint;
  readonly oomKilled: boolean;
}

export interface ExecSyncResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number;
}

export interface InteractiveExecRequest {
  readonly tty: boolean;
  readonly cols?: number;
  readonly rows?: number;
}

export interface ContainerRuntime {
  /** Runs conmon, which runs `<runtime> create`; resolves with the container's pid. */
  create(req: CreateRequest): Promise<{ readonly pid: number }>;
  start(id: string, runtimeHandler: string): Promise<void>;
  /** Signals the container's init; a container that already exited is not an error. */
  kill(id: string, runtimeHandler: string, signal: string): Promise<void>;
  /** `<runtime> delete --force`, and conmon's files; idempotent. */
  delete(id: string, runtimeHandler: string): Promise<void>;
  state(id: string, runtimeHandler: string): Promise<RuntimeState>;
  /**
   * Every container this runtime handler knows, with its state (`<runtime> list`): startup recovery asks once
   * instead of once per container. A container it does not list does not exist for it (state() says "stopped").
   */
  states(runtimeHandler: string): Promise<ReadonlyMap<string, RuntimeState>>;
  execSync(id: string, runtimeHandler: string, cmd: readonly string[], timeoutMs: number): Promise<ExecSyncResult>;
  /** A process in the container whose stdio the caller relays (streaming exec); the caller ends it. */
  execInteractive(
    id: string,
    runtimeHandler: string,
    cmd: readonly string[],
    req: InteractiveExecRequest,
  ): Promise<InteractiveProcess>;
  /** The monitor's attach socket (SOCK_SEQPACKET) of a running container. */
  attachSocketPath(id: string): string;
  /** Resizes the terminal of a container created with a TTY (through its monitor). */
  resizeTerminal(id: string, cols: number, rows: number): Promise<void>;
  reopenLog(id: string): Promise<void>;
  /** `<runtime> update` with OCI LinuxResources JSON (cgroup limits of a running container). */
  update(id: string, runtimeHandler: string, resources: unknown): Promise<void>;
  /** The exit a watcher recorded for id (after a restart, for containers that exited meanwhile). */
  exitOf(id: string): Promise<ContainerExit | undefined>;
  /** Called once per container exit, including exits that happened while berthd was down (on start). */
  onExit(listener: (exit: ContainerExit) => void): void;
}

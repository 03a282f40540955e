/**
 * The lifecycle behind `berth run`: run a pod, pull the image when it is missing, create and start the
 * container, and for the docker-style one-shot also stream the container's output from its CRI log file
 * until it exits, then pass its exit code on.
 *
 *   RunPodSandbox -> [ImageStatus -> PullImage] -> CreateContainer -> StartContainer -> follow log -> exited
 *        |                      |                        |                   |               |
 *        '----------------------'--- failure ------------'-------------------'               '-- --rm: remove
 *                                    (remove the pod: nothing useful is left; say so)
 *
 * Output: the log reader joins conmon's partial (P) records into whole lines and writes stdout records to
 * stdout, stderr records to stderr. It stops only once ContainerStatus says exited and the file has been
 * read to its end. No trailing output is lost: conmon's main() drains the container's pipes into the log
 * (drain_stdio, sync_logs) before it writes the exit file that berthd reports the exit from.
 *
 * With -i or -t (AttachMode) the output comes through CRI Attach instead of the log file, and berth's stdin
 * goes to the container. The session is opened between create and start, so not a byte of output is missed:
 *
 *   ... -> CreateContainer -> Attach (URL) -> session open -> StartContainer -> session ends -> exited
 *
 * berthd accepts an attach to a created container (conmon serves the attach socket from create on). The
 * session ends when the container's output does (conmon closes the socket as the container exits); the exit
 * code is then read from ContainerStatus, as without -i/-t: an attach session itself reports no exit code.
 *
 * Signals: the first SIGINT, SIGTERM or SIGHUP (or a broken output pipe, `| head`) cancels a pull in
 * flight, or stops a started container with a short grace period (its log is still drained); then the run
 * cleans up as usual and exits 128+N (130, 143, 129; 141 for the pipe). A second one exits at once and
 * names what is left behind. Create and start are never cancelled half-way: berthd would finish them
 * anyway and leave an object nobody knows about. With -it on a terminal, Ctrl-C is no signal for berth: raw
 * mode sends it to the container as a byte, as docker does.
 */
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { ContainerState } from '../api/gen/cri.js';
import type { ContainerConfig, ContainerStatus, ImageSpec, PodSandboxConfig } from '../api/gen/cri.js';
import { messageOf } from '../base/errors.js';
import type { Clients } from './client.js';
import { CliError } from './errors.js';
import { readCriLog } from './log-reader.js';
import { EXIT_RUN_FAILED, attachStdio, exitCodeForSignal, exitCodeForStartFailure } from './run-options.js';

/** Grace period of the StopContainer a Ctrl-C sends, in seconds (docker stop's 10 s is long for a prompt). */
export const INTERRUPT_STOP_TIMEOUT_S = 2;
/** How often ContainerStatus is asked whether the container exited, while its log is quiet. */
const STATUS_POLL_MS = 100;
/** Cleanup calls get their own deadline, longer than --timeout: RemovePodSandbox may stop containers first. */
const CLEANUP_TIMEOUT_MS = 60_000;
/** Ctrl-C, kill, and a closed terminal. */
const HANDLED_SIGNALS = Object.freeze(['SIGINT', 'SIGTERM', 'SIGHUP'] as const);

/** How runToExit talks to a container run with -i or -t: an attach session instead of the log file. */
export interface AttachMode {
  /** -i: the container was created with stdin (and stdin_once), and the session sends berth's stdin. */
  readonly isInteractive: boolean;
  /** -t: the container was created with a terminal. */
  readonly isTty: boolean;
  /**
   * Runs the stream session on an Attach URL until it ends: calls onOpen once it is up (the container is
   * started then); the signal ends it early.
   */
  readonly runSession: (url: string, onOpen: () => void, signal: AbortSignal) => Promise<unknown>;
}

export interface ContainerRunOptions {
  readonly podConfig: PodSandboxConfig;
  readonly containerConfig: ContainerConfig;
  readonly runtimeHandler: string;
  /** Pull the image when ImageStatus does not know it (false: --no-pull). */
  readonly shouldPull: boolean;
  /** runToExit only: remove the container and the pod once the container exited (docker's --rm). */
  readonly shouldRemove: boolean;
  /** A log directory the CLI chose for the pod, removed with it. */
  readonly ownedLogDirectory?: string;
  /** runToExit only: attach (-i/-t) instead of following the log. */
  readonly attach?: AttachMode;
}

export interface StartedContainer {
  readonly podSandboxId: string;
  readonly containerId: string;
}

export interface OutputStreams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Asks ImageStatus and pulls (with the pod config as sandbox_config, as the kubelet does) when absent. */
export async function ensureImage(
  clients: Clients,
  image: ImageSpec,
  podConfig: PodSandboxConfig,
  options: { readonly signal?: AbortSignal; readonly onPull?: () => void } = {},
): Promise<void> {
  const status = await clients.call(clients.image.imageStatus.bind(clients.image), { image, verbose: false });
  if (status.image !== undefined) return;
  options.onPull?.();
  // No deadline: a pull takes as long as the layers need; the signal (Ctrl-C) cancels it.
  await clients.callWithDeadline(
    clients.image.pullImage.bind(clients.image),
    { image, auth: undefined, sandboxConfig: podConfig },
    undefined,
    options.signal,
  );
}

/** Removes a pod and its containers (CRI RemovePodSandbox stops and removes them). */
export async function removePod(clients: Clients, podSandboxId: string): Promise<void> {
  await clients.callWithDeadline(
    clients.runtime.removePodSandbox.bind(clients.runtime),
    { podSandboxId },
    CLEANUP_TIMEOUT_MS,
  );
}

function isExited(status: ContainerStatus): boolean {
  return status.state === ContainerState.CONTAINER_EXITED;
}

/** Raised when a signal arrived before the container started: everything is removed. */
class Interrupted extends Error {}

export class ContainerRun {
  private podSandboxId: string | undefined;
  private containerId: string | undefined;
  /** runToExit only: the container runs and its output is relayed, so a signal stops it. */
  private isStarted = false;
  private isOutputClosed = false;
  private signalled: NodeJS.Signals | undefined;
  private stopping: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly clients: Clients,
    private readonly options: ContainerRunOptions,
    private readonly io: OutputStreams = { stdout: process.stdout, stderr: process.stderr },
  ) {}

  /**
   * crictl's run: the container is started and left running. On a failure (or a signal) before that, the
   * pod is removed, and stderr says so.
   */
  async start(): Promise<StartedContainer> {
    return this.withSignals(async () => {
      try {
        await this.startContainer();
      } catch (err) {
        await this.removeEverything(this.signalled === undefined ? 'the failure' : 'the interrupt');
        if (this.signalled !== undefined) throw new CliError('interrupted', exitCodeForSignal(this.signalled));
        // crictl exits 1 on any failure; docker's 125/126/127 are for runToExit.
        throw err instanceof CliError ? new CliError(err.message) : err;
      }
      return { podSandboxId: this.podSandboxId!, containerId: this.containerId! };
    });
  }

  /** docker's run: runs the container to its end; resolves with the exit code berth should exit with. */
  async runToExit(): Promise<number> {
    return this.withSignals(() => this.runSteps());
  }

  private async withSignals<T>(fn: () => Promise<T>): Promise<T> {
    const onSignal = (signal: NodeJS.Signals): void => this.interrupt(signal);
    // A reader that went away (`berth run IMAGE seq 1 1000000 | head`) is a SIGPIPE for a C program; Node
    // ignores the signal and fails the write with EPIPE instead. Either way the container is stopped.
    const onOutputError = (): void => {
      this.isOutputClosed = true;
      if (this.signalled === undefined) this.interrupt('SIGPIPE');
    };
    for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
    this.io.stdout.on('error', onOutputError);
    this.io.stderr.on('error', onOutputError);
    try {
      return await fn();
    } finally {
      for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
      this.io.stdout.off('error', onOutputError);
      this.io.stderr.off('error', onOutputError);
    }
  }

  /** Writes container output, waiting when the stream asks for a pause; dropped once the reader went away. */
  private async write(stream: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
    if (this.isOutputClosed) return;
    // once() also settles (rejects) on 'error', so a pipe that breaks while we wait does not hang us.
    if (!stream.write(bytes)) await once(stream, 'drain').catch(() => undefined);
  }

  private async runSteps(): Promise<number> {
    let exitCode: number;
    const attach = this.options.attach;
    try {
      if (attach === undefined) {
        await this.startContainer();
        this.isStarted = true;
        exitCode = await this.followUntilExit();
      } else {
        exitCode = await this.runAttached(attach);
      }
    } catch (err) {
      // A signal before the start leaves nothing worth keeping; a failure is said, then reported.
      const isInterrupt = this.signalled !== undefined && !this.isStarted;
      await this.removeEverything(isInterrupt ? undefined : 'the failure');
      if (isInterrupt) return exitCodeForSignal(this.signalled!);
      throw err;
    }
    if (this.options.shouldRemove) await this.removeEverything(undefined);
    return this.signalled === undefined ? exitCode : exitCodeForSignal(this.signalled);
  }

  private async startContainer(): Promise<void> {
    await this.createContainer();
    await this.startCreated();
  }

  /** RunPodSandbox, the image, CreateContainer: everything up to the start. */
  private async createContainer(): Promise<void> {
    const { clients } = this;
    const { podConfig, containerConfig } = this.options;
    const pod = await clients.call(clients.runtime.runPodSandbox.bind(clients.runtime), {
      config: podConfig,
      runtimeHandler: this.options.runtimeHandler,
    });
    this.podSandboxId = pod.podSandboxId;
    this.checkInterrupted();
    if (this.options.shouldPull && containerConfig.image !== undefined) {
      const image = containerConfig.image.image;
      await ensureImage(clients, containerConfig.image, podConfig, {
        signal: this.abort.signal,
        onPull: () => this.io.stderr.write(`Unable to find image "${image}" locally, pulling it\n`),
      }).catch((err: unknown) => {
        this.checkInterrupted();
        throw new CliError(`pull ${image}: ${messageOf(err)}`, EXIT_RUN_FAILED);
      });
    }
    this.checkInterrupted();
    try {
      const created = await clients.call(clients.runtime.createContainer.bind(clients.runtime), {
        podSandboxId: pod.podSandboxId,
        config: containerConfig,
        sandboxConfig: podConfig,
      });
      this.containerId = created.containerId;
    } catch (err) {
      throw new CliError(messageOf(err), exitCodeForStartFailure(messageOf(err)));
    }
  }

  private async startCreated(): Promise<void> {
    const { clients } = this;
    this.checkInterrupted();
    try {
      await clients.call(clients.runtime.startContainer.bind(clients.runtime), { containerId: this.containerId! });
    } catch (err) {
      throw new CliError(messageOf(err), exitCodeForStartFailure(messageOf(err)));
    }
    // A signal during StartContainer counts as one before it: the container is removed with its pod.
    this.checkInterrupted();
  }

  /** -i/-t: attach to the created container, start it once the session is up, wait for both to end. */
  private async runAttached(attach: AttachMode): Promise<number> {
    const { clients } = this;
    await this.createContainer();
    this.checkInterrupted();
    const { url } = await clients
      .call(clients.runtime.attach.bind(clients.runtime), {
        containerId: this.containerId!,
        ...attachStdio(attach.isInteractive, attach.isTty),
      })
      .catch((err: unknown) => {
        throw new CliError(`attach: ${messageOf(err)}`, EXIT_RUN_FAILED);
      });
    const ending = new AbortController();
    let isOpen = false;
    let onOpen = (): void => undefined;
    const opened = new Promise<void>((resolve) => {
      onOpen = () => {
        isOpen = true;
        resolve();
      };
    });
    const session = attach
      .runSession(url, () => onOpen(), ending.signal)
      .then(
        () => undefined,
        (err: unknown) => {
          throw new CliError(`attach: ${messageOf(err)}`, EXIT_RUN_FAILED);
        },
      );
    try {
      // A session that ends before it opened failed: its error is the one to report.
      await Promise.race([opened, session]);
      if (!isOpen) throw new CliError('attach: the session ended before it was up', EXIT_RUN_FAILED);
      await this.startCreated();
    } catch (err) {
      ending.abort();
      await session.catch(() => undefined);
      throw err;
    }
    this.isStarted = true;
    await session;
    return this.waitForExit(await this.statusOf());
  }

  private async statusOf(): Promise<ContainerStatus> {
    const { clients } = this;
    const containerId = this.containerId!;
    const res = await clients.call(clients.runtime.containerStatus.bind(clients.runtime), {
      containerId,
      verbose: false,
    });
    if (res.status === undefined) throw new CliError(`container ${containerId} has no status`, EXIT_RUN_FAILED);
    return res.status;
  }

  /** Copies the container's log to our stdout/stderr until it exits; returns its exit code. */
  private async followUntilExit(): Promise<number> {
    let last = await this.statusOf();
    if (last.logPath !== '') {
      const reader = readCriLog(last.logPath, {
        follow: true,
        stopCheckMs: STATUS_POLL_MS,
        shouldStop: async () => isExited((last = await this.statusOf())),
      });
      for await (const out of reader)
        await this.write(out.stream === 'stderr' ? this.io.stderr : this.io.stdout, out.bytes);
    }
    return this.waitForExit(last);
  }

  /** Polls ContainerStatus from `last` on until the container exited; returns its exit code. */
  private async waitForExit(last: ContainerStatus): Promise<number> {
    while (!isExited(last)) {
      await new Promise((resolve) => setTimeout(resolve, STATUS_POLL_MS));
      last = await this.statusOf();
    }
    return last.exitCode;
  }

  private interrupt(signal: NodeJS.Signals): void {
    if (this.signalled !== undefined) {
      // Second signal: the user wants out now, whatever is left.
      const left =
        this.podSandboxId === undefined
          ? ''
          : `; left pod ${this.podSandboxId} (remove it with: berth rmp ${this.podSandboxId.slice(0, 13)})`;
      this.io.stderr.write(`berth: interrupted again${left}\n`);
      process.exit(exitCodeForSignal(signal));
    }
    this.signalled = signal;
    this.abort.abort();
    if (this.isStarted) this.stopContainer();
  }

  private stopContainer(): void {
    if (this.stopping !== undefined || this.containerId === undefined) return;
    const { clients } = this;
    this.stopping = clients
      .call(clients.runtime.stopContainer.bind(clients.runtime), {
        containerId: this.containerId,
        timeout: BigInt(INTERRUPT_STOP_TIMEOUT_S),
      })
      .then(
        () => undefined,
        (err: unknown) => {
          this.io.stderr.write(`berth: stop container ${this.containerId!.slice(0, 13)}: ${messageOf(err)}\n`);
        },
      );
  }

  private checkInterrupted(): void {
    if (this.signalled !== undefined) throw new Interrupted(this.signalled);
  }

  /** Removes the pod (with its container) and the log directory the CLI chose; `reason` is said on stderr. */
  private async removeEverything(reason: string | undefined): Promise<void> {
    await this.stopping;
    const id = this.podSandboxId;
    if (id !== undefined) {
      try {
        await removePod(this.clients, id);
      } catch (err) {
        this.io.stderr.write(`berth: could not remove pod ${id}: ${messageOf(err)}\n`);
        return;
      }
      if (reason !== undefined) this.io.stderr.write(`berth: removed pod ${id.slice(0, 13)} after ${reason}\n`);
    }
    if (this.options.ownedLogDirectory !== undefined) {
      await rm(this.options.ownedLogDirectory, { recursive: true, force: true });
    }
  }
}

/**
 * What the stream server needs from the runtime, and the requests it serves. The daemon implements
 * StreamBackend with the container and sandbox services; tests can drive the protocols with a fake.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

export interface ExecStreamRequest {
  readonly kind: 'exec';
  readonly namespace: string;
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

export interface AttachStreamRequest {
  readonly kind: 'attach';
  readonly namespace: string;
  readonly containerId: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

export interface PortForwardStreamRequest {
  readonly kind: 'portforward';
  readonly namespace: string;
  readonly podSandboxId: string;
  /** Ports named in the CRI request; empty allows any (the client names the port per stream). */
  readonly ports: readonly number[];
}

export type StreamRequest = ExecStreamRequest | AttachStreamRequest | PortForwardStreamRequest;

/** The client side of one exec or attach: what it sends, where its output goes. */
export interface StreamIo {
  /** Client's stdin; ends when the client closes it. */
  readonly stdin: Readable | undefined;
  readonly stdout: Writable | undefined;
  readonly stderr: Writable | undefined;
  /** Registers the handler for terminal resizes (called with the latest size, first one included). */
  onResize(handler: (size: TerminalSize) => void): void;
  /** Aborted when the client went away: the backend stops relaying (and an exec'd process is killed). */
  readonly signal: AbortSignal;
}

export interface ExecOutcome {
  /** null when the process ended by a signal (then `signal` is set). */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface StreamBackend {
  /** Runs req.cmd in the container, relaying io, until the process exits. */
  exec(req: ExecStreamRequest, io: StreamIo): Promise<ExecOutcome>;
  /** Relays the container's main process stdio until its output ends or the client detaches. */
  attach(req: AttachStreamRequest, io: StreamIo): Promise<void>;
  /** A TCP connection to localhost:port inside the pod's network namespace. */
  dial(req: PortForwardStreamRequest, port: number): Promise<Duplex>;
}

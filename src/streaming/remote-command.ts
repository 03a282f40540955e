/**
 * The remotecommand protocol (kubelet's exec and attach), independent of the transport (SPDY or WebSocket):
 * which subprotocols exist, how the final status is written, and the order of the end of a session. The order
 * matters to Go clients: they wait for stdout and stderr to end, then read the status from the error stream,
 * so both output streams are finished before the status is written, and the error stream is closed last.
 */
import type { Readable, Writable } from 'node:stream';
import { messageOf } from '../base/errors.js';
import { ResizeDecoder } from './resize-decoder.js';
import type {
  AttachStreamRequest,
  ExecOutcome,
  ExecStreamRequest,
  StreamBackend,
  StreamIo,
  TerminalSize,
} from './stream-backend.js';

/** SPDY subprotocols, newest first (X-Stream-Protocol-Version). */
export const SPDY_COMMAND_PROTOCOLS = Object.freeze([
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
]);
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Does this protocol carry a JSON metav1.Status on the error stream (v4 and later)? */
export function hasJsonStatus(protocol: string): boolean {
  return /^v[4-9]\./.test(protocol);
}

/** Does this protocol have a resize stream (v3 and later)? */
export function hasResize(protocol: string): boolean {
  return /^v[3-9]\./.test(protocol);
}

export type CommandResult =
  | { readonly kind: 'success' }
  | { readonly kind: 'exit'; readonly exitCode: number; readonly cmd: readonly string[] }
  | { readonly kind: 'error'; readonly message: string };

/**
 * The bytes written on the error stream at the end (empty: write nothing). v4+: metav1.Status JSON, with a
 * non-zero exit as reason NonZeroExitCode and a cause of type ExitCode (JSON key "reason"), which is how
 * kubectl and crictl recover the exit code. Older protocols: the error text alone.
 */
export function encodeResult(protocol: string, result: CommandResult): Buffer {
  if (!hasJsonStatus(protocol)) {
    if (result.kind === 'success') return Buffer.alloc(0);
    return Buffer.from(result.kind === 'exit' ? exitMessage(result) : result.message);
  }
  if (result.kind === 'success') return Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }));
  if (result.kind === 'exit') {
    return Buffer.from(
      JSON.stringify({
        metadata: {},
        status: 'Failure',
        message: exitMessage(result),
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
      }),
    );
  }
  return Buffer.from(
    JSON.stringify({ metadata: {}, status: 'Failure', message: result.message, reason: 'InternalError', code: 500 }),
  );
}

function exitMessage(result: { readonly exitCode: number; readonly cmd: readonly string[] }): string {
  return (
    `command terminated with non-zero exit code: error executing command [${result.cmd.join(' ')}], ` +
    `exit code ${result.exitCode}`
  );
}

export function resultOf(outcome: ExecOutcome, cmd: readonly string[]): CommandResult {
  if (outcome.exitCode === 0) return { kind: 'success' };
  if (outcome.exitCode !== null) return { kind: 'exit', exitCode: outcome.exitCode & 0xff, cmd };
  return { kind: 'error', message: `command [${cmd.join(' ')}] was terminated by signal ${outcome.signal ?? '?'}` };
}

/** A transport's view of one session, once all its streams are there. */
export interface CommandChannels {
  readonly protocol: string;
  readonly stdin: Readable | undefined;
  readonly stdout: Writable | undefined;
  readonly stderr: Writable | undefined;
  /** Raw resize messages (concatenated JSON objects). */
  readonly resize: Readable | undefined;
  /** Aborted when the client's connection is gone. */
  readonly signal: AbortSignal;
  /** Writes the status bytes (if any) on the error stream, closes it and the connection. */
  finish(status: Buffer): Promise<void>;
}

/** Runs one exec or attach session to its end: relay, finish the outputs, write the status, close. */
export async function serveCommand(
  backend: StreamBackend,
  req: ExecStreamRequest | AttachStreamRequest,
  channels: CommandChannels,
): Promise<void> {
  const io: StreamIo = {
    stdin: channels.stdin,
    stdout: channels.stdout,
    stderr: channels.stderr,
    signal: channels.signal,
    onResize: (handler: (size: TerminalSize) => void) => {
      if (channels.resize === undefined) return;
      const decoder = new ResizeDecoder(handler);
      channels.resize.on('data', (chunk: Buffer) => decoder.push(chunk));
    },
  };
  let result: CommandResult;
  try {
    if (req.kind === 'exec') {
      result = resultOf(await backend.exec(req, io), req.cmd);
    } else {
      await backend.attach(req, io);
      result = { kind: 'success' };
    }
  } catch (err) {
    result = { kind: 'error', message: messageOf(err) };
  }
  if (channels.signal.aborted) return;
  await Promise.all([endWritable(channels.stdout), endWritable(channels.stderr)]);
  await channels.finish(encodeResult(channels.protocol, result));
}

function endWritable(stream: Writable | undefined): Promise<void> {
  if (stream === undefined || stream.writableFinished || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.end(() => resolve());
  });
}

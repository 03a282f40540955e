/**
 * gRPC clients for the CLI, with deadlines, and the translation of "nothing is listening" into the
 * one-line hint users need (no stack traces).
 */
import { access, constants } from 'node:fs/promises';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import type {
  CallOptions,
  ClientReadableStream,
  ClientUnaryCall,
  ClientWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { ImageServiceClient, RuntimeServiceClient } from '../api/gen/cri.js';
import { AdminClient } from '../api/gen/admin.js';
import { socketPathOf } from './address.js';
import { CliError } from './errors.js';

/** A generated grpc-js unary method, in its (request, metadata, options, callback) form. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** A generated grpc-js server-streaming method, in its (request, metadata, options) form. */
export type ServerStreamMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
) => ClientReadableStream<Res>;

/** A generated grpc-js client-streaming method, in its (metadata, options, callback) form. */
export type ClientStreamMethod<Req, Res> = (
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientWritableStream<Req>;

export class Clients {
  readonly runtime: RuntimeServiceClient;
  readonly image: ImageServiceClient;
  readonly admin: AdminClient;
  private readonly socketPath: string;

  constructor(
    readonly address: string,
    private readonly timeoutMs: number,
    private readonly namespace: string,
  ) {
    this.socketPath = socketPathOf(address);
    const target = `unix://${this.socketPath}`;
    const creds = credentials.createInsecure();
    // 16 MiB like crictl: ExecSync output is capped to fit it.
    this.runtime = new RuntimeServiceClient(target, creds, { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    this.image = new ImageServiceClient(target, creds);
    this.admin = new AdminClient(target, creds);
  }

  /** Calls one unary RPC; bind the method to its client: `call(c.runtime.version.bind(c.runtime), {...})`. */
  call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return this.callWithDeadline(method, request, this.timeoutMs);
  }

  /**
   * A unary call with its own deadline (undefined: none), for calls that run as long as the user asks (exec,
   * pull); `signal` cancels it (the promise then rejects with CANCELLED).
   */
  async callWithDeadline<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<Res> {
    await this.checkSocket();
    return new Promise<Res>((resolve, reject) => {
      const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
      const cancel = (): void => call.cancel();
      const call = method(request, this.metadata(), { deadline }, (err, response) => {
        signal?.removeEventListener('abort', cancel);
        if (err) reject(this.translate(err));
        else resolve(response);
      });
      if (signal?.aborted) call.cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /**
   * Calls a server-streaming RPC and yields its messages. No deadline: a pull or an export may take longer
   * than --timeout; Ctrl-C cancels the call.
   */
  async *stream<Req, Res>(method: ServerStreamMethod<Req, Res>, request: Req): AsyncGenerator<Res> {
    await this.checkSocket();
    const call = method(request, this.metadata(), {});
    const cancel = (): void => call.cancel();
    process.once('SIGINT', cancel);
    try {
      for await (const message of call) yield message as Res;
    } catch (err) {
      throw this.translate(err as ServiceError);
    } finally {
      process.off('SIGINT', cancel);
    }
  }

  /** Calls a client-streaming RPC, writing each message with backpressure; no deadline, Ctrl-C cancels. */
  async sendStream<Req, Res>(method: ClientStreamMethod<Req, Res>, messages: AsyncIterable<Req>): Promise<Res> {
    await this.checkSocket();
    let call: ClientWritableStream<Req> | undefined;
    const response = new Promise<Res>((resolve, reject) => {
      call = method(this.metadata(), {}, (err, res) => (err ? reject(this.translate(err)) : resolve(res)));
    });
    const stream = call!;
    const cancel = (): void => stream.cancel();
    process.once('SIGINT', cancel);
    try {
      for await (const message of messages) {
        if (!stream.write(message)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
      }
      stream.end();
      return await response;
    } catch (err) {
      stream.cancel();
      await response.catch(() => undefined);
      throw err;
    } finally {
      process.off('SIGINT', cancel);
    }
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set('containerd-namespace', this.namespace);
    return metadata;
  }

  close(): void {
    this.runtime.close();
    this.image.close();
    this.admin.close();
  }

  private notRunning(why: string): CliError {
    return new CliError(
      `cannot connect to berthd at ${this.address} (${why}): start it with "berthd" (or "npm start"), ` +
        'or point --address / BERTH_ADDRESS at its socket',
    );
  }

  private async checkSocket(): Promise<void> {
    try {
      await access(this.socketPath, constants.R_OK | constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES') {
        throw new CliError(`permission denied on ${this.socketPath}: the socket is root-only (mode 0660); use sudo`);
      }
      throw this.notRunning(code === 'ENOENT' ? 'no such socket' : (code ?? 'unreachable'));
    }
  }

  private translate(err: ServiceError): Error {
    if (err.code === status.UNAVAILABLE && /No connection established|ECONNREFUSED|ENOENT/.test(err.details)) {
      return this.notRunning('connection refused');
    }
    if (err.code === status.DEADLINE_EXCEEDED) {
      return new CliError(`berthd at ${this.address} did not answer within ${this.timeoutMs / 1000}s (--timeout)`);
    }
    return new CliError(`${status[err.code] ?? err.code}: ${err.details}`);
  }
}

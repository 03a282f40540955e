/**
 * The one wrapper around every RPC handler (CRI and admin), like containerd's instrumented service:
 * - UNAVAILABLE "server is not initialized yet" while startup recovery runs;
 * - a request id and a child logger {rpc, reqId} per call; mutations logged at info with their result,
 *   reads at trace; failures at warn (classified) or error with stack (unclassified -> UNKNOWN);
 * - an AbortSignal that fires when the client cancels or its deadline passes;
 * - BerthError codes converted to gRPC status codes (errors.ts);
 * - an RPC without a handler answers UNIMPLEMENTED naming it, never a silent empty success;
 * - every call's end (method, status code name, duration) reported to onCallEnd: the metrics hook;
 * - streaming RPCs (admin pull progress, image export/import) get the same treatment: a server-streaming
 *   handler awaits send() for backpressure, a client-streaming one reads an async iterable of requests;
 * - a unary handler may answer with an EncodedMessage (bytes it encoded itself: the List* answers spliced from
 *   cached entries, see list-encoding.ts); tolerantDefinition's serializer sends those bytes as they are.
 * Handlers never log their own entry or exit.
 */
import { randomBytes } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import type {
  sendUnaryData,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from '../base/logger.js';
import { BerthError, errorCode, messageOf } from '../base/errors.js';
import { toStatus } from './errors.js';

export interface CallContext {
  /**
   * The containerd-style namespace of the call: the `containerd-namespace` metadata when the client sends it
   * (the berth CLI's -n), else the service's default (k8s.io for CRI: kubelet and crictl never send it).
   */
  readonly namespace: string;
  readonly log: Logger;
  readonly reqId: string;
  /** Aborted when the client cancels the call or its deadline passes. */
  readonly signal: AbortSignal;
}

/**
 * A response message already in protobuf wire form. T is the message type the bytes encode, so a handler can
 * only answer with bytes of its own response type.
 */
export class EncodedMessage<T> {
  /** Type-only: ties the bytes to their message type. */
  declare readonly messageType?: T;

  constructor(readonly bytes: Buffer) {}
}

type RequestOf<M> = M extends { requestDeserialize(bytes: Buffer): infer R } ? R : never;
type ResponseOf<M> = M extends { responseSerialize(value: infer R): Buffer } ? R : never;
type HandlerOf<M> = M extends { requestStream: false; responseStream: false }
  ? (request: RequestOf<M>, ctx: CallContext) => Promise<ResponseOf<M> | EncodedMessage<ResponseOf<M>>>
  : M extends { requestStream: false; responseStream: true }
    ? (request: RequestOf<M>, ctx: CallContext, send: (message: ResponseOf<M>) => Promise<void>) => Promise<void>
    : M extends { requestStream: true; responseStream: false }
      ? (requests: AsyncIterable<RequestOf<M>>, ctx: CallContext) => Promise<ResponseOf<M>>
      : never;

/** Handler functions keyed like the generated service definition (bidirectional streams: none yet). */
export type Handlers<D> = { readonly [K in keyof D]?: HandlerOf<D[K]> };

export interface ServiceOptions {
  /** "RuntimeService": used in UNIMPLEMENTED messages and logs. */
  readonly serviceName: string;
  readonly log: Logger;
  /** False while startup recovery runs. */
  readonly isReady: () => boolean;
  /** Namespace of calls that name none (CRI: k8s.io). */
  readonly defaultNamespace?: string;
  /** Whether a namespace named in metadata exists; calls naming another get NOT_FOUND. */
  readonly namespaceExists?: (name: string) => boolean;
  /** Told of every call's end, whatever its outcome (metrics). Must not throw. */
  readonly onCallEnd?: (outcome: CallOutcome) => void;
  /**
   * Aborted when the daemon begins to shut down: server streams (event subscriptions, which never end on
   * their own) end with UNAVAILABLE at once, so the client reconnects to the next daemon and shutdown does not
   * wait out its grace period for them.
   */
  readonly shutdown?: AbortSignal;
}

/** What a daemon passes to every service it builds. */
export type ServiceHooks = Pick<ServiceOptions, 'onCallEnd' | 'shutdown'>;

export interface CallOutcome {
  /** serviceName of the options ("RuntimeService"). */
  readonly service: string;
  /** The RPC ("ListContainers"). */
  readonly method: string;
  /** The gRPC status code name: "OK", or the error's code ("NOT_FOUND", "UNKNOWN", ...). */
  readonly code: string;
  readonly durationMs: number;
}

const NAMESPACE_METADATA = 'containerd-namespace';

// Reads are polled constantly by kubelet (List* every second): log them at trace only.
const READ_RPC = /^(list|version|status|runtimeConfig|imageFsInfo)|(Status|Stats|Info)$/;

type Handler = (request: unknown, ctx: CallContext) => Promise<unknown>;
type StreamHandler = (request: unknown, ctx: CallContext, send: (message: unknown) => Promise<void>) => Promise<void>;

export function buildService<D extends ServiceDefinition>(
  definition: D,
  handlers: Handlers<D>,
  options: ServiceOptions,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(definition)) {
    const rpcName = def.path.slice(def.path.lastIndexOf('/') + 1);
    const handler = (handlers as Record<string, Handler | undefined>)[method];
    if (def.responseStream && def.requestStream) {
      impl[method] = (call: ServerWritableStream<unknown, unknown>) => {
        call.emit('error', unimplemented(options, rpcName));
      };
    } else if (def.responseStream) {
      impl[method] =
        handler === undefined
          ? (call: ServerWritableStream<unknown, unknown>) => {
              call.emit('error', unimplemented(options, rpcName));
            }
          : wrapServerStream(rpcName, handler as StreamHandler, options);
    } else if (def.requestStream) {
      impl[method] =
        handler === undefined
          ? (_call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
              callback(unimplemented(options, rpcName));
            }
          : wrapUnary(rpcName, handler, options, (call) => call);
    } else {
      impl[method] =
        handler === undefined
          ? (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
              callback(unimplemented(options, rpcName));
            }
          : wrapUnary(rpcName, handler, options, (call) => (call as ServerUnaryCall<unknown, unknown>).request);
    }
  }
  return impl;
}

const DECODE_FAILURE = Symbol('berth.decodeFailure');

interface DecodeFailure {
  readonly [DECODE_FAILURE]: string;
}

function decodeFailureOf(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null && DECODE_FAILURE in request
    ? (request as DecodeFailure)[DECODE_FAILURE]
    : undefined;
}

/**
 * The service definition as served: request decoding that cannot throw, and responses a handler encoded itself
 * (EncodedMessage) sent as they are. grpc-js answers a message it cannot decode with INTERNAL, which tells a
 * client the server broke; a malformed request is the caller's error, so the failure is carried to the handler
 * wrapper and answered INVALID_ARGUMENT like any other bad input.
 */
export function tolerantDefinition<D extends ServiceDefinition>(definition: D): D {
  const tolerant: Record<string, unknown> = {};
  for (const [method, def] of Object.entries(definition)) {
    tolerant[method] = {
      ...def,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return def.requestDeserialize(bytes);
        } catch (err) {
          const failure: DecodeFailure = { [DECODE_FAILURE]: messageOf(err) };
          return failure;
        }
      },
      responseSerialize: (value: unknown): Buffer =>
        value instanceof EncodedMessage ? value.bytes : def.responseSerialize(value),
    };
  }
  return tolerant as D;
}

function malformed(rpcName: string, request: unknown): BerthError | undefined {
  const failure = decodeFailureOf(request);
  return failure === undefined
    ? undefined
    : new BerthError('INVALID_ARGUMENT', `malformed ${rpcName} request: ${failure}`);
}

function unimplemented(options: ServiceOptions, rpcName: string): { code: status; details: string } {
  report(options, rpcName, 'UNIMPLEMENTED', 0);
  return { code: status.UNIMPLEMENTED, details: `${options.serviceName}.${rpcName} is not implemented by berth yet` };
}

function notReady(options: ServiceOptions, rpcName: string): { code: status; details: string } {
  report(options, rpcName, 'UNAVAILABLE', 0);
  return { code: status.UNAVAILABLE, details: 'server is not initialized yet' };
}

function report(options: ServiceOptions, method: string, code: string, durationMs: number): void {
  options.onCallEnd?.({ service: options.serviceName, method, code, durationMs });
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>;

function callContext(
  rpcName: string,
  call: { once(event: 'cancelled', fn: () => void): unknown; metadata: Metadata },
  options: ServiceOptions,
) {
  const named = call.metadata.get(NAMESPACE_METADATA)[0];
  const namespace = typeof named === 'string' && named !== '' ? named : (options.defaultNamespace ?? '');
  const reqId = randomBytes(8).toString('hex');
  const log = options.log.child({ rpc: rpcName, reqId });
  const abort = new AbortController();
  call.once('cancelled', () => abort.abort(new Error(`${rpcName} cancelled by the client`)));
  const startedNs = process.hrtime.bigint();
  const elapsedMs = (): number => Number(process.hrtime.bigint() - startedNs) / 1e6;
  const unknownNamespace =
    namespace !== options.defaultNamespace && options.namespaceExists?.(namespace) === false
      ? new BerthError('NOT_FOUND', `namespace "${namespace}" not found`)
      : undefined;
  const end = (code: string): void => report(options, rpcName, code, elapsedMs());
  return { ctx: { namespace, log, reqId, signal: abort.signal }, log, elapsedMs, unknownNamespace, end };
}

function logFailure(
  log: Logger,
  err: unknown,
  elapsedMs: number,
  end: (code: string) => void,
): { code: status; details: string } {
  end(errorCode(err));
  const st = toStatus(err);
  if (errorCode(err) === 'UNKNOWN') {
    log.error({ err, durationMs: elapsedMs }, 'failed with an unclassified error');
  } else {
    log.warn({ code: errorCode(err), durationMs: elapsedMs }, st.details);
  }
  return st;
}

function wrapServerStream(rpcName: string, handler: StreamHandler, options: ServiceOptions) {
  return (call: ServerWritableStream<unknown, unknown>): void => {
    if (!options.isReady()) {
      call.emit('error', notReady(options, rpcName));
      return;
    }
    const { ctx, log, elapsedMs, unknownNamespace, end } = callContext(rpcName, call, options);
    if (unknownNamespace !== undefined) {
      call.emit('error', logFailure(log, unknownNamespace, elapsedMs(), end));
      return;
    }
    const bad = malformed(rpcName, call.request);
    if (bad !== undefined) {
      call.emit('error', logFailure(log, bad, elapsedMs(), end));
      return;
    }
    if (options.shutdown?.aborted) {
      end('UNAVAILABLE');
      call.emit('error', { code: status.UNAVAILABLE, details: `${rpcName}: berthd is shutting down; reconnect` });
      return;
    }
    // The handler sees one signal: the client's cancel or the daemon's shutdown, whichever comes first.
    const stop = new AbortController();
    const onCancel = (): void => stop.abort(ctx.signal.reason);
    const onShutdown = (): void => stop.abort(new Error('berthd is shutting down'));
    ctx.signal.addEventListener('abort', onCancel, { once: true });
    options.shutdown?.addEventListener('abort', onShutdown, { once: true });
    const release = (): void => {
      ctx.signal.removeEventListener('abort', onCancel);
      options.shutdown?.removeEventListener('abort', onShutdown);
    };
    const isShutDown = (): boolean => options.shutdown?.aborted === true && !ctx.signal.aborted;
    const shutDownStatus = (): { code: status; details: string } => {
      end('UNAVAILABLE');
      log.info({ durationMs: elapsedMs() }, 'ended by the daemon shutting down');
      return { code: status.UNAVAILABLE, details: `${rpcName}: berthd is shutting down; reconnect` };
    };
    const streamCtx: CallContext = { ...ctx, signal: stop.signal };
    const send = async (message: unknown): Promise<void> => {
      if (stop.signal.aborted) throw new BerthError('CANCELLED', `${rpcName} cancelled by the client`);
      if (!call.write(message)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            call.off('drain', done);
            stop.signal.removeEventListener('abort', done);
            resolve();
          };
          call.on('drain', done);
          stop.signal.addEventListener('abort', done);
        });
      }
    };
    const running = handler(call.request, streamCtx, send);
    // Response headers now, not with the first message: the handler has subscribed by the time it first waits,
    // so a client that sees the headers knows no later event is missed (tests wait for them instead of sleeping).
    call.sendMetadata(new Metadata());
    running.then(
      () => {
        release();
        if (isShutDown()) {
          call.emit('error', shutDownStatus());
          return;
        }
        log.info({ durationMs: elapsedMs() }, 'ok');
        end('OK');
        call.end();
      },
      (err: unknown) => {
        release();
        if (isShutDown()) {
          call.emit('error', shutDownStatus());
          return;
        }
        const st = logFailure(log, err, elapsedMs(), end);
        if (!ctx.signal.aborted) call.emit('error', st);
      },
    );
  };
}

function wrapUnary(rpcName: string, handler: Handler, options: ServiceOptions, requestOf: (call: AnyCall) => unknown) {
  const isRead = READ_RPC.test(rpcName[0]!.toLowerCase() + rpcName.slice(1));
  return (call: AnyCall, callback: sendUnaryData<unknown>): void => {
    if (!options.isReady()) {
      callback(notReady(options, rpcName));
      return;
    }
    const { ctx, log, elapsedMs, unknownNamespace, end } = callContext(rpcName, call, options);
    if (unknownNamespace !== undefined) {
      callback(logFailure(log, unknownNamespace, elapsedMs(), end));
      return;
    }
    const request = requestOf(call);
    const bad = malformed(rpcName, request);
    if (bad !== undefined) {
      callback(logFailure(log, bad, elapsedMs(), end));
      return;
    }
    handler(request, ctx).then(
      (response) => {
        if (isRead) {
          if (log.isLevelEnabled('trace')) log.trace({ durationMs: elapsedMs() }, 'ok');
        } else {
          log.info({ ...resultIds(response), durationMs: elapsedMs() }, 'ok');
        }
        end('OK');
        callback(null, response);
      },
      (err: unknown) => {
        callback(logFailure(log, err, elapsedMs(), end));
      },
    );
  };
}

/** The ids a mutation returned (podSandboxId, containerId, imageRef), for its info log line. */
function resultIds(response: unknown): Record<string, string> {
  if (typeof response !== 'object' || response === null) return {};
  const ids: Record<string, string> = {};
  for (const [key, value] of Object.entries(response)) {
    if (typeof value === 'string' && value !== '' && /(Id|Ref)$/.test(key)) ids[key] = value;
  }
  return ids;
}

/**
 * The opt-in Prometheus endpoint (`[metrics] address`, containerd's key): http://ADDRESS/metrics in the text
 * exposition format, from a prom-client Registry of this instance (never prom-client's global one):
 *
 *   berth_grpc_requests_total{service,method,code}        every CRI and admin call, by gRPC code name
 *   berth_grpc_request_duration_seconds{service,method}   their latency (streams: until they end)
 *   berth_image_pull_bytes_total                          layer bytes pulls downloaded
 *   berth_image_pull_duration_seconds                     completed pulls, name to recorded image
 *   berth_containers{state} / berth_pods{state}           read from the services at each scrape
 *   process_* and nodejs_*                                prom-client's default metrics
 *
 * Calls are counted by the one RPC wrapper (cri/server.ts onCallEnd); pulls from the "/image/pulled" event.
 * Nothing here is collected unless the address is set: the daemon builds this service only then.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BerthError, messageOf } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import type { BerthEvent } from '../events/index.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';

export interface MetricsSources {
  /** Containers per state, every known state present (0 included) so series do not vanish. */
  containersByState(): Readonly<Record<string, number>>;
  podsByState(): Readonly<Record<string, number>>;
}

export interface RpcObservation {
  /** "RuntimeService", "ImageService", "Admin". */
  readonly service: string;
  /** "ListContainers". */
  readonly method: string;
  /** The gRPC status code name: "OK", "NOT_FOUND", ... */
  readonly code: string;
  readonly durationMs: number;
}

export interface MetricsServiceOptions {
  /** "HOST:PORT"; port 0 picks a free one (see `address` after start). */
  readonly address: string;
  readonly sources: MetricsSources;
  readonly log: Logger;
}

export const METRICS_PATH = '/metrics';
/** From 1 ms (a List from memory) to 2 minutes (a slow CreateContainer, a pull through the CRI). */
const RPC_BUCKETS_S = Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]);
const PULL_BUCKETS_S = Object.freeze([0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]);

export class MetricsService {
  readonly registry = new Registry();
  private readonly rpcCount: Counter<'service' | 'method' | 'code'>;
  private readonly rpcDuration: Histogram<'service' | 'method'>;
  private readonly pullBytes: Counter;
  private readonly pullDuration: Histogram;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: MetricsServiceOptions) {
    parseListenAddress(options.address); // a bad address fails at construction, not at start
    const registers = [this.registry];
    this.rpcCount = new Counter({
      name: 'berth_grpc_requests_total',
      help: 'CRI and admin gRPC calls, by service, method and status code',
      labelNames: ['service', 'method', 'code'] as const,
      registers,
    });
    this.rpcDuration = new Histogram({
      name: 'berth_grpc_request_duration_seconds',
      help: 'Latency of CRI and admin gRPC calls (server streams: until they end)',
      labelNames: ['service', 'method'] as const,
      buckets: [...RPC_BUCKETS_S],
      registers,
    });
    this.pullBytes = new Counter({
      name: 'berth_image_pull_bytes_total',
      help: 'Bytes of image layers downloaded by completed pulls',
      registers,
    });
    this.pullDuration = new Histogram({
      name: 'berth_image_pull_duration_seconds',
      help: 'Duration of completed image pulls',
      buckets: [...PULL_BUCKETS_S],
      registers,
    });
    const { sources } = options;
    new Gauge({
      name: 'berth_containers',
      help: 'Containers by state (all namespaces)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sources.containersByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'berth_pods',
      help: 'Pod sandboxes by state (all namespaces)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sources.podsByState())) this.set({ state }, n);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  observeRpc(o: RpcObservation): void {
    this.rpcCount.inc({ service: o.service, method: o.method, code: o.code });
    this.rpcDuration.observe({ service: o.service, method: o.method }, o.durationMs / 1000);
  }

  /** Subscribed to the event bus: completed pulls carry their bytes and duration. */
  observeEvent(event: BerthEvent): void {
    if (event.type !== 'image' || event.action !== 'pulled') return;
    const { bytes, durationMs } = event.fields;
    if (typeof bytes === 'number') this.pullBytes.inc(bytes);
    if (typeof durationMs === 'number') this.pullDuration.observe(durationMs / 1000);
  }

  /** The exposition text (what GET /metrics answers). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  async start(): Promise<void> {
    const { host, port } = parseListenAddress(this.options.address);
    const server = createServer((req, res) => this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new BerthError('FAILED_PRECONDITION', `metrics: listen on ${this.options.address}: ${messageOf(err)}`, {
        cause: err,
      });
    });
    this.server = server;
    this.options.log.info({ url: this.url }, 'metrics endpoint serving');
  }

  /** The address actually bound ("127.0.0.1:41234"), or the configured one before start. */
  get address(): string {
    const bound = this.server?.address();
    if (bound === null || bound === undefined || typeof bound === 'string') return this.options.address;
    return formatListenAddress({ host: bound.address, port: bound.port });
  }

  get url(): string {
    return `http://${this.address}${METRICS_PATH}`;
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const server = this.server;
      if (server === undefined) {
        resolve();
        return;
      }
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => this.registry.clear());
    return this.closing;
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: only ${METRICS_PATH} is served\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    this.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        this.options.log.warn({ err }, 'metrics: a collector failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${messageOf(err)}\n`);
      },
    );
  }
}

/**
 * metrics: the opt-in Prometheus endpoint (`[metrics] address`, default off) with prom-client: gRPC call counts
 * and latencies per method, image pull bytes and durations, containers and pods by state, process metrics.
 * Owns nothing on disk. Layer 1: it sees the other domains only through the narrow sources the daemon passes.
 */
export { MetricsService, METRICS_PATH } from './metrics-service.js';
export type { MetricsServiceOptions, MetricsSources, RpcObservation } from './metrics-service.js';
export { formatListenAddress, parseListenAddress } from './listen-address.js';
export type { ListenAddress } from './listen-address.js';

/**
 * Fetch dispatchers that skip TLS certificate verification, for registry hosts configured with
 * `[plugins.cri.registry.configs."HOST".tls] insecure_skip_verify = true` (containerd's key). Global fetch
 * takes such an undici dispatcher per request (`dispatcher` in RequestInit); nothing else in the process
 * is affected, unlike NODE_TLS_REJECT_UNAUTHORIZED. The npm undici 6.x matches the undici Node 20 bundles
 * behind its fetch, so its Agent is a dispatcher that fetch accepts.
 */
import { Agent } from 'undici';

export type FetchDispatcher = NonNullable<RequestInit['dispatcher']>;

/** Makes the dispatcher used for every request to a host whose certificates are not checked. */
export type InsecureDispatcherFactory = () => Promise<FetchDispatcher>;

export const createInsecureDispatcher: InsecureDispatcherFactory = async () =>
  new Agent({ connect: { rejectUnauthorized: false } });

/**
 * Fetch dispatchers that skip TLS certificate verification, for registry hosts configured with
 * `[plugins.cri.registry.configs."HOST".tls] insecure_skip_verify = true` (containerd's key). Global fetch
 * takes such an undici dispatcher per request (`dispatcher` in RequestInit); nothing else in the process
 * is affected, unlike NODE_TLS_REJECT_UNAUTHORIZED.
 *
 * Node 20 bundles undici (6.x) but does not export it. Until the npm `undici` package is a dependency, the
 * Agent class is taken from Node's own global dispatcher, which is an undici Agent once fetch has loaded.
 * TODO(#3): with npm undici installed, return `new Agent({ connect: { rejectUnauthorized: false } })`.
 */
import { BerthError } from '../../base/errors.js';

export type FetchDispatcher = NonNullable<RequestInit['dispatcher']>;

/** Makes the dispatcher used for every request to a host whose certificates are not checked. */
export type InsecureDispatcherFactory = () => Promise<FetchDispatcher>;

type AgentClass = new (options: { readonly connect: { readonly rejectUnauthorized: boolean } }) => FetchDispatcher;

/** undici's registration key for the process-wide dispatcher (undici lib/global.js). */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

export const createInsecureDispatcher: InsecureDispatcherFactory = async () => {
  // Node loads its undici on the first fetch call; a data: URL loads it without touching the network.
  await (await fetch('data:,')).arrayBuffer();
  const global = (globalThis as unknown as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
  const ctor: unknown = typeof global === 'object' && global !== null ? global.constructor : undefined;
  if (typeof ctor !== 'function' || ctor.name !== 'Agent') {
    throw new BerthError(
      'FAILED_PRECONDITION',
      'tls.insecure_skip_verify needs an undici Agent, and this Node exposes none (install the npm undici package)',
    );
  }
  return new (ctor as AgentClass)({ connect: { rejectUnauthorized: false } });
};

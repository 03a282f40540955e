/** Admin ListPlugins (`berth plugins`): each part of the daemon, whether it is ready, and why (not). */
import type { ListPluginsRequest, ListPluginsResponse } from '../api/gen/admin.js';
import type { Plugins } from './deps.js';

export function listPlugins(plugins: Plugins) {
  return async (_request: ListPluginsRequest): Promise<ListPluginsResponse> => ({
    plugins: (await plugins.list()).map((p) => ({
      type: p.type,
      id: p.id,
      requires: [...p.requires],
      ready: p.isReady,
      reason: p.reason,
      details: { ...p.details },
    })),
  });
}

/**
 * admin: Berth's own gRPC service beside CRI (containerd's ctr functions): namespaces, images (pull with
 * progress, tag, prune, push, save/load archives), content, snapshots, events of every kind, and plugins.
 * It is served through the same instrumented wrapper as CRI (src/cri/server.ts), metrics hook included.
 */
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { AdminService } from '../api/gen/admin.js';
import type { Logger } from '../base/logger.js';
import { buildService, tolerantDefinition } from '../cri/index.js';
import type { ServiceHooks } from '../cri/index.js';
import { deleteContent, listContent, readContent } from './content.js';
import type { AdminDeps } from './deps.js';
import { subscribe } from './events.js';
import { listPlugins } from './plugins.js';
import { listSnapshots, removeSnapshot } from './snapshots.js';
import { exportImages, importImages, pruneImages, pullImage, pushImage, tagImage } from './images.js';
import { createNamespace, deleteNamespace, listNamespaces } from './namespaces.js';

export type {
  AdminContent,
  AdminDeps,
  AdminEvents,
  AdminImages,
  AdminSnapshots,
  Namespaces,
  NamespaceInfo,
  Plugins,
  PluginStatus,
} from './deps.js';

export function createAdminService(
  deps: AdminDeps,
  log: Logger,
  isReady: () => boolean,
  hooks: ServiceHooks = {},
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const { events, nowNs } = deps;
  const implementation = buildService(
    AdminService,
    {
      listNamespaces: listNamespaces(deps.namespaces),
      createNamespace: createNamespace(deps.namespaces, events, nowNs),
      deleteNamespace: deleteNamespace(deps.namespaces, events, nowNs),
      listContent: listContent(deps.content),
      readContent: readContent(deps.content),
      deleteContent: deleteContent(deps.content, events, nowNs),
      listSnapshots: listSnapshots(deps.snapshots),
      removeSnapshot: removeSnapshot(deps.snapshots, events, nowNs),
      subscribe: subscribe(events),
      listPlugins: listPlugins(deps.plugins),
      pullImage: pullImage(deps.images, deps.namespaces),
      tagImage: tagImage(deps.images, deps.namespaces),
      pruneImages: pruneImages(deps.images, deps.namespaces),
      pushImage: pushImage(deps.images, deps.namespaces),
      exportImages: exportImages(deps.images, deps.namespaces),
      importImages: importImages(deps.images, deps.namespaces),
    },
    { serviceName: 'Admin', log, isReady, ...hooks },
  );
  return { definition: tolerantDefinition(AdminService), implementation };
}

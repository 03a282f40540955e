/**
 * admin: Berth's own gRPC service beside CRI (containerd's ctr functions): namespaces and images (pull with
 * progress, tag, prune; push and archives with #3); content, snapshots, events and plugins answer
 * UNIMPLEMENTED until issue #8 lands.
 * It is served through the same instrumented wrapper as CRI (src/cri/server.ts).
 */
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { AdminService } from '../api/gen/admin.js';
import type { Logger } from '../base/logger.js';
import { buildService, tolerantDefinition } from '../cri/index.js';
import type { AdminDeps } from './deps.js';
import { exportImages, importImages, pruneImages, pullImage, pushImage, tagImage } from './images.js';
import { createNamespace, deleteNamespace, listNamespaces } from './namespaces.js';

export type { AdminDeps, AdminImages, Namespaces, NamespaceInfo } from './deps.js';

export function createAdminService(
  deps: AdminDeps,
  log: Logger,
  isReady: () => boolean,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const implementation = buildService(
    AdminService,
    {
      listNamespaces: listNamespaces(deps.namespaces),
      createNamespace: createNamespace(deps.namespaces),
      deleteNamespace: deleteNamespace(deps.namespaces),
      pullImage: pullImage(deps.images, deps.namespaces),
      tagImage: tagImage(deps.images, deps.namespaces),
      pruneImages: pruneImages(deps.images, deps.namespaces),
      pushImage: pushImage(deps.images, deps.namespaces),
      exportImages: exportImages(deps.images, deps.namespaces),
      importImages: importImages(deps.images, deps.namespaces),
    },
    { serviceName: 'Admin', log, isReady },
  );
  return { definition: tolerantDefinition(AdminService), implementation };
}

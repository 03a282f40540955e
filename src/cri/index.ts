/**
 * cri: the CRI v1 gRPC services (RuntimeService, ImageService). Thin: each handler validates, calls one
 * domain method and maps the result; server.ts applies logging, readiness and error mapping to all.
 */
import { ImageServiceService, RuntimeServiceService } from '../api/gen/cri.js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../base/logger.js';
import { buildService, tolerantDefinition } from './server.js';
import type { ServiceHooks } from './server.js';
import { runtimeVersion } from './runtime-version.js';
import { runtimeStatus } from './runtime-status.js';
import { runtimeConfig } from './runtime-config.js';
import { updateRuntimeConfig } from './runtime-config-update.js';
import type { RuntimeServiceDeps } from './deps.js';
import type { ImageService } from '../images/index.js';
import { imageList } from './image-list.js';
import { imageStatus } from './image-status.js';
import { imagePull } from './image-pull.js';
import { imageRemove } from './image-remove.js';
import { imageFsInfo } from './image-fs-info.js';
import { CRI_NAMESPACE } from './image-view.js';
import { listPodSandbox, podSandboxStatus, removePodSandbox, runPodSandbox, stopPodSandbox } from './pod-sandbox.js';
import { containerStats, listContainerStats } from './container-stats.js';
import { getContainerEvents } from './container-events.js';
import { listPodSandboxStats, podSandboxStats } from './pod-stats.js';
import {
  containerStatus,
  createContainer,
  execSync,
  listContainers,
  removeContainer,
  reopenContainerLog,
  startContainer,
  stopContainer,
  updateContainerResources,
} from './containers.js';
import type { ImageFsUsage } from './image-fs-info.js';
import { attach, exec, portForward } from './streaming.js';

export interface ImageServiceDeps {
  readonly images: ImageService;
  readonly imageFs: ImageFsUsage;
  /** For the berth CLI's -n (containerd-namespace metadata); kubelet always works in k8s.io. */
  readonly namespaceExists: (name: string) => boolean;
}
export type { ImageFsUsage } from './image-fs-info.js';

export type { RuntimeServiceDeps, RuntimeInfo, ReadinessCheck, PodCidrs } from './deps.js';
export type { Sandboxes } from './pod-sandbox.js';
export type { Containers, ImageLookup } from './containers.js';
export type { StreamUrls } from './streaming.js';
export { buildService, tolerantDefinition } from './server.js';
export type { CallContext, CallOutcome, ServiceHooks, ServiceOptions, Handlers } from './server.js';
export { GRPC_STATUS, fromServiceError, toStatus } from './errors.js';

export interface CriServices {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

export function createCriServices(
  deps: RuntimeServiceDeps & ImageServiceDeps,
  log: Logger,
  isReady: () => boolean,
  hooks: ServiceHooks = {},
): readonly CriServices[] {
  const common = { log, isReady, ...hooks };
  const runtime = buildService(
    RuntimeServiceService,
    {
      version: runtimeVersion(deps.info),
      status: runtimeStatus(deps),
      runtimeConfig: runtimeConfig(deps.info),
      updateRuntimeConfig: updateRuntimeConfig(deps.podCidrs),
      runPodSandbox: runPodSandbox(deps.sandboxes),
      stopPodSandbox: stopPodSandbox(deps.sandboxes),
      removePodSandbox: removePodSandbox(deps.sandboxes),
      podSandboxStatus: podSandboxStatus(deps.sandboxes, deps.nowNs),
      listPodSandbox: listPodSandbox(deps.sandboxes),
      createContainer: createContainer(deps.containers),
      startContainer: startContainer(deps.containers),
      stopContainer: stopContainer(deps.containers),
      removeContainer: removeContainer(deps.containers),
      containerStatus: containerStatus(deps.containers, deps.images),
      listContainers: listContainers(deps.containers, deps.images),
      execSync: execSync(deps.containers),
      exec: exec(deps.containers, deps.streams),
      attach: attach(deps.containers, deps.streams),
      portForward: portForward(deps.sandboxes, deps.streams),
      reopenContainerLog: reopenContainerLog(deps.containers),
      updateContainerResources: updateContainerResources(deps.containers),
      getContainerEvents: getContainerEvents(deps.containerEvents, deps.sandboxes, deps.containers, deps.images),
      containerStats: containerStats(deps.containers, deps.nowNs),
      listContainerStats: listContainerStats(deps.containers, deps.nowNs),
      podSandboxStats: podSandboxStats(deps.sandboxes, deps.containers, deps.nowNs),
      listPodSandboxStats: listPodSandboxStats(deps.sandboxes, deps.containers, deps.nowNs),
    },
    {
      serviceName: 'RuntimeService',
      ...common,
      defaultNamespace: CRI_NAMESPACE,
      namespaceExists: deps.namespaceExists,
    },
  );
  const image = buildService(
    ImageServiceService,
    {
      listImages: imageList(deps.images),
      imageStatus: imageStatus(deps.images),
      pullImage: imagePull(deps.images),
      removeImage: imageRemove(deps.images),
      imageFsInfo: imageFsInfo(deps.imageFs),
    },
    {
      serviceName: 'ImageService',
      ...common,
      defaultNamespace: CRI_NAMESPACE,
      namespaceExists: deps.namespaceExists,
    },
  );
  return [
    { definition: tolerantDefinition(RuntimeServiceService), implementation: runtime },
    { definition: tolerantDefinition(ImageServiceService), implementation: image },
  ];
}

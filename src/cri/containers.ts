/**
 * RuntimeService container RPCs: CreateContainer, StartContainer, StopContainer, RemoveContainer,
 * ContainerStatus, ListContainers, ExecSync, ReopenContainerLog.
 */
import { Container as CriContainerMessage, ContainerConfig, ContainerState } from '../api/gen/cri.js';
import type {
  Container as CriContainer,
  ContainerStatus,
  ContainerStatusRequest,
  ContainerStatusResponse,
  CreateContainerRequest,
  CreateContainerResponse,
  ExecSyncRequest,
  ExecSyncResponse,
  ListContainersRequest,
  ListContainersResponse,
  RemoveContainerRequest,
  RemoveContainerResponse,
  ReopenContainerLogRequest,
  ReopenContainerLogResponse,
  StartContainerRequest,
  StartContainerResponse,
  StopContainerRequest,
  StopContainerResponse,
  UpdateContainerResourcesRequest,
  UpdateContainerResourcesResponse,
} from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ImageService } from '../images/index.js';
import type { Container, ContainerService } from '../runtime/index.js';
import type { CallContext, EncodedMessage } from './server.js';
import { EntryCache } from './list-encoding.js';

export type Containers = Pick<
  ContainerService,
  | 'create'
  | 'start'
  | 'stop'
  | 'remove'
  | 'get'
  | 'list'
  | 'execSync'
  | 'reopenLog'
  | 'usage'
  | 'podUsage'
  | 'updateResources'
  | 'checkAttach'
>;
export type ImageLookup = Pick<ImageService, 'find'>;

/**
 * ExecSync output above this is cut (CVE-2022-31030, CVE-2022-1708): stdout and stderr together, with room for
 * the message framing, so the whole response fits kubelet's (and crictl's) 16 MiB receive limit.
 */
export const EXEC_SYNC_MAX_OUTPUT = 16 * 1024 * 1024 - 64 * 1024;

const STATES: Record<Container['state'], ContainerState> = {
  creating: ContainerState.CONTAINER_CREATED,
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
};

function requireId(id: string, rpc: string): string {
  if (id === '') throw new BerthError('INVALID_ARGUMENT', `${rpc} needs a container id`);
  return id;
}

function imageRefOf(c: Container, images: ImageLookup): string {
  const image = images.find(c.namespace, c.imageId);
  return image?.repoDigests[0] ?? c.imageId;
}

/**
 * imageRefOf for many containers of one namespace: a node's containers share a few images, and resolving the
 * image is most of the cost of a ListContainers entry (issue #7: 1000 containers).
 */
function imageRefCache(images: ImageLookup): (c: Container) => string {
  const refs = new Map<string, string>();
  return (c) => {
    let ref = refs.get(c.imageId);
    if (ref === undefined) {
      ref = imageRefOf(c, images);
      refs.set(c.imageId, ref);
    }
    return ref;
  };
}

function toCriContainer(c: Container, imageRef: string): CriContainer {
  return {
    id: c.id,
    podSandboxId: c.sandboxId,
    metadata: c.config.metadata,
    image: { image: c.imageRef, annotations: {}, userSpecifiedImage: c.imageRef, runtimeHandler: '', imageRef: '' },
    imageRef,
    state: STATES[c.state],
    createdAt: c.createdAtNs,
    labels: { ...c.config.labels },
    annotations: { ...c.config.annotations },
    imageId: c.imageId,
  };
}

export function toContainerStatus(c: Container, images: ImageLookup): ContainerStatus {
  const base = toCriContainer(c, imageRefOf(c, images));
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: base.state,
    createdAt: c.createdAtNs,
    startedAt: c.status.startedAtNs,
    finishedAt: c.status.finishedAtNs,
    exitCode: c.status.exitCode,
    image: base.image,
    imageRef: base.imageRef,
    reason: c.status.reason,
    message: c.status.message,
    labels: base.labels,
    annotations: base.annotations,
    mounts: c.config.mounts,
    logPath: c.status.logPath,
    resources: c.config.linux?.resources ? { linux: c.config.linux.resources, windows: undefined } : undefined,
    imageId: c.imageId,
    user: undefined,
    stopSignal: c.config.stopSignal,
  };
}

export function createContainer(containers: Containers) {
  return async (request: CreateContainerRequest, ctx: CallContext): Promise<CreateContainerResponse> => {
    if (request.config === undefined) throw new BerthError('INVALID_ARGUMENT', 'CreateContainer needs a config');
    const c = await containers.create(
      ctx.namespace,
      requireId(request.podSandboxId, 'CreateContainer'),
      request.config,
    );
    return { containerId: c.id };
  };
}

export function startContainer(containers: Containers) {
  return async (request: StartContainerRequest, ctx: CallContext): Promise<StartContainerResponse> => {
    await containers.start(ctx.namespace, requireId(request.containerId, 'StartContainer'));
    return {};
  };
}

export function stopContainer(containers: Containers) {
  return async (request: StopContainerRequest, ctx: CallContext): Promise<StopContainerResponse> => {
    const timeout = Number(request.timeout);
    if (timeout < 0) throw new BerthError('INVALID_ARGUMENT', 'StopContainer timeout must not be negative');
    await containers.stop(ctx.namespace, requireId(request.containerId, 'StopContainer'), timeout);
    return {};
  };
}

export function removeContainer(containers: Containers) {
  return async (request: RemoveContainerRequest, ctx: CallContext): Promise<RemoveContainerResponse> => {
    await containers.remove(ctx.namespace, requireId(request.containerId, 'RemoveContainer'));
    return {};
  };
}

export function containerStatus(containers: Containers, images: ImageLookup) {
  return async (request: ContainerStatusRequest, ctx: CallContext): Promise<ContainerStatusResponse> => {
    const c = containers.get(ctx.namespace, requireId(request.containerId, 'ContainerStatus'));
    const info: Record<string, string> = {};
    if (request.verbose) {
      info['info'] = JSON.stringify({
        sandboxID: c.sandboxId,
        pid: c.status.pid,
        runtimeHandler: c.runtimeHandler,
        stopSignal: c.stopSignal,
        config: ContainerConfig.toJSON(c.config),
      });
    }
    return {
      status: toContainerStatus(c, images),
      info,
    };
  };
}

/** ListContainersResponse.containers */
const LIST_CONTAINERS_FIELD = 1;

export function listContainers(containers: Containers, images: ImageLookup) {
  // Each container's entry is encoded once per version of its record and image digest (list-encoding.ts).
  const entries = new EntryCache<Container>(LIST_CONTAINERS_FIELD, (c, imageRef) =>
    CriContainerMessage.encode(toCriContainer(c, imageRef)).finish(),
  );
  return async (request: ListContainersRequest, ctx: CallContext): Promise<EncodedMessage<ListContainersResponse>> => {
    const f = request.filter;
    const state = f?.state === undefined ? undefined : stateOf(f.state.state);
    const list = containers.list(ctx.namespace, {
      ...(f?.id ? { id: f.id } : {}),
      ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
      ...(state === undefined ? {} : { state }),
      labels: f?.labelSelector ?? {},
    });
    const refOf = imageRefCache(images);
    return entries.splice(list.map((c) => entries.bytesOf(c, refOf(c))));
  };
}

function stateOf(state: ContainerState): Container['state'] | undefined {
  if (state === ContainerState.CONTAINER_CREATED) return 'created';
  if (state === ContainerState.CONTAINER_RUNNING) return 'running';
  if (state === ContainerState.CONTAINER_EXITED) return 'exited';
  return undefined;
}

export function execSync(containers: Containers) {
  return async (request: ExecSyncRequest, ctx: CallContext): Promise<ExecSyncResponse> => {
    const timeout = Number(request.timeout);
    if (timeout < 0) throw new BerthError('INVALID_ARGUMENT', 'ExecSync timeout must not be negative');
    const res = await containers.execSync(
      ctx.namespace,
      requireId(request.containerId, 'ExecSync'),
      request.cmd,
      timeout,
    );
    const stdout = res.stdout.subarray(0, EXEC_SYNC_MAX_OUTPUT);
    return {
      stdout,
      stderr: res.stderr.subarray(0, EXEC_SYNC_MAX_OUTPUT - stdout.length),
      exitCode: res.exitCode,
    };
  };
}

export function reopenContainerLog(containers: Containers) {
  return async (request: ReopenContainerLogRequest, ctx: CallContext): Promise<ReopenContainerLogResponse> => {
    await containers.reopenLog(ctx.namespace, requireId(request.containerId, 'ReopenContainerLog'));
    return {};
  };
}

export function updateContainerResources(containers: Containers) {
  return async (
    request: UpdateContainerResourcesRequest,
    ctx: CallContext,
  ): Promise<UpdateContainerResourcesResponse> => {
    if (request.linux === undefined) {
      throw new BerthError('INVALID_ARGUMENT', 'UpdateContainerResources needs linux resources');
    }
    await containers.updateResources(
      ctx.namespace,
      requireId(request.containerId, 'UpdateContainerResources'),
      request.linux,
    );
    return {};
  };
}

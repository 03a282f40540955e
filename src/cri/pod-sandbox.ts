/** RuntimeService RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox. */
import { NamespaceMode, PodSandbox as PodSandboxMessage, PodSandboxConfig, PodSandboxState } from '../api/gen/cri.js';
import type {
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  PodSandbox,
  PodSandboxStatus,
  PodSandboxStatusRequest,
  PodSandboxStatusResponse,
  RemovePodSandboxRequest,
  RemovePodSandboxResponse,
  RunPodSandboxRequest,
  RunPodSandboxResponse,
  StopPodSandboxRequest,
  StopPodSandboxResponse,
} from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { Sandbox, SandboxService } from '../sandbox/index.js';
import type { CallContext, EncodedMessage } from './server.js';
import { EntryCache } from './list-encoding.js';

export type Sandboxes = Pick<SandboxService, 'run' | 'stop' | 'remove' | 'get' | 'list' | 'find'>;

function requireId(id: string, rpc: string): string {
  if (id === '') throw new BerthError('INVALID_ARGUMENT', `${rpc} needs a pod sandbox id`);
  return id;
}

function criState(sandbox: Sandbox): PodSandboxState {
  return sandbox.state === 'ready' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

function toPodSandbox(s: Sandbox): PodSandbox {
  return {
    id: s.id,
    metadata: s.config.metadata,
    state: criState(s),
    createdAt: s.createdAtNs,
    labels: { ...s.spec.labels },
    annotations: { ...s.spec.annotations },
    runtimeHandler: s.spec.runtimeHandler,
  };
}

export function toPodSandboxStatus(s: Sandbox): PodSandboxStatus {
  const [ip = '', ...others] = s.network.ips;
  const nsOptions = s.config.linux?.securityContext?.namespaceOptions;
  return {
    ...toPodSandbox(s),
    network: { ip, additionalIps: others.map((o) => ({ ip: o })) },
    linux: {
      namespaces: {
        options: {
          network: nsOptions?.network ?? NamespaceMode.POD,
          pid: nsOptions?.pid ?? NamespaceMode.CONTAINER,
          ipc: nsOptions?.ipc ?? NamespaceMode.POD,
          targetId: nsOptions?.targetId ?? '',
          usernsOptions: nsOptions?.usernsOptions,
        },
      },
    },
  };
}

export function runPodSandbox(sandboxes: Sandboxes) {
  return async (request: RunPodSandboxRequest, ctx: CallContext): Promise<RunPodSandboxResponse> => {
    if (request.config === undefined) throw new BerthError('INVALID_ARGUMENT', 'RunPodSandbox needs a config');
    const sandbox = await sandboxes.run(ctx.namespace, request.config, request.runtimeHandler);
    return { podSandboxId: sandbox.id };
  };
}

export function stopPodSandbox(sandboxes: Sandboxes) {
  return async (request: StopPodSandboxRequest, ctx: CallContext): Promise<StopPodSandboxResponse> => {
    await sandboxes.stop(ctx.namespace, requireId(request.podSandboxId, 'StopPodSandbox'));
    return {};
  };
}

export function removePodSandbox(sandboxes: Sandboxes) {
  return async (request: RemovePodSandboxRequest, ctx: CallContext): Promise<RemovePodSandboxResponse> => {
    await sandboxes.remove(ctx.namespace, requireId(request.podSandboxId, 'RemovePodSandbox'));
    return {};
  };
}

export function podSandboxStatus(sandboxes: Sandboxes, nowNs: () => bigint) {
  return async (request: PodSandboxStatusRequest, ctx: CallContext): Promise<PodSandboxStatusResponse> => {
    const s = sandboxes.get(ctx.namespace, requireId(request.podSandboxId, 'PodSandboxStatus'));
    const status = toPodSandboxStatus(s);
    const info: Record<string, string> = {};
    if (request.verbose) {
      info['info'] = JSON.stringify({
        pid: s.network.pidInit ?? 0,
        state: s.state,
        netNamespacePath: s.network.netns ?? '',
        ipcNamespacePath: s.network.ipcns ?? '',
        utsNamespacePath: s.network.utsns ?? '',
        shm: s.network.shm ?? '',
        files: s.network.files ?? {},
        runtimeHandler: s.spec.runtimeHandler,
        cgroupParent: s.spec.cgroupParent,
        config: PodSandboxConfig.toJSON(s.config),
      });
    }
    return { status, info, containersStatuses: [], timestamp: nowNs() };
  };
}

/** ListPodSandboxResponse.items */
const LIST_POD_SANDBOX_FIELD = 1;

export function listPodSandbox(sandboxes: Sandboxes) {
  // Each pod's entry is encoded once per version of its record (list-encoding.ts).
  const entries = new EntryCache<Sandbox>(LIST_POD_SANDBOX_FIELD, (s) =>
    PodSandboxMessage.encode(toPodSandbox(s)).finish(),
  );
  return async (request: ListPodSandboxRequest, ctx: CallContext): Promise<EncodedMessage<ListPodSandboxResponse>> => {
    const f = request.filter;
    const state =
      f?.state === undefined ? undefined : f.state.state === PodSandboxState.SANDBOX_READY ? 'ready' : 'notready';
    const items = sandboxes.list(ctx.namespace, {
      ...(f?.id ? { id: f.id } : {}),
      ...(state === undefined ? {} : { state }),
      labels: f?.labelSelector ?? {},
    });
    return entries.splice(items.map((s) => entries.bytesOf(s)));
  };
}

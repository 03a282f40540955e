/**
 * RuntimeService GetContainerEvents: a stream of container lifecycle events with the pod's status and its
 * containers' statuses, for kubelet's evented PLEG. A slow reader is handled by pumpEvents
 * (events/event-pump.ts): past its queue limit the stream ends with RESOURCE_EXHAUSTED and kubelet relists.
 */
import { ContainerEventType } from '../api/gen/cri.js';
import type { ContainerEventResponse, GetEventsRequest } from '../api/gen/cri.js';
import { pumpEvents } from '../events/index.js';
import type { ContainerEvent, ContainerEventKind, EventBus } from '../events/index.js';
import { toContainerStatus } from './containers.js';
import type { Containers, ImageLookup } from './containers.js';
import { toPodSandboxStatus } from './pod-sandbox.js';
import type { Sandboxes } from './pod-sandbox.js';
import type { CallContext } from './server.js';

const TYPES: Record<ContainerEventKind, ContainerEventType> = {
  created: ContainerEventType.CONTAINER_CREATED_EVENT,
  started: ContainerEventType.CONTAINER_STARTED_EVENT,
  stopped: ContainerEventType.CONTAINER_STOPPED_EVENT,
  deleted: ContainerEventType.CONTAINER_DELETED_EVENT,
};

export function getContainerEvents(
  bus: EventBus<ContainerEvent>,
  sandboxes: Pick<Sandboxes, 'get'> & { find(namespace: string, id: string): unknown },
  containers: Containers,
  images: ImageLookup,
) {
  return async (
    _request: GetEventsRequest,
    ctx: CallContext,
    send: (message: ContainerEventResponse) => Promise<void>,
  ): Promise<void> => {
    await pumpEvents<ContainerEvent>({
      subscribe: (listener) => bus.subscribe(listener),
      accept: (event) => event.namespace === ctx.namespace,
      deliver: (event) => send(toResponse(event)),
      signal: ctx.signal,
    });
  };

  function toResponse(event: ContainerEvent): ContainerEventResponse {
    let podSandboxStatus;
    let containersStatuses: ContainerEventResponse['containersStatuses'] = [];
    if (sandboxes.find(event.namespace, event.sandboxId) !== undefined) {
      podSandboxStatus = toPodSandboxStatus(sandboxes.get(event.namespace, event.sandboxId));
      containersStatuses = containers
        .list(event.namespace, { sandboxId: event.sandboxId })
        .map((c) => toContainerStatus(c, images));
    }
    return {
      containerId: event.containerId,
      containerEventType: TYPES[event.kind],
      createdAt: event.atNs,
      podSandboxStatus,
      containersStatuses,
    };
  }
}

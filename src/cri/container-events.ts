/**
 * RuntimeService GetContainerEvents: a stream of container lifecycle events with the pod's status and its
 * containers' statuses, for kubelet's evented PLEG. Each stream buffers up to MAX_PENDING events for a slow
 * reader; past that the stream ends with RESOURCE_EXHAUSTED (kubelet reconnects and relists) rather than
 * holding berthd's memory hostage.
 */
import { ContainerEventType } from '../api/gen/cri.js';
import type { ContainerEventResponse, GetEventsRequest } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ContainerEvent, ContainerEventKind, EventBus } from '../events/index.js';
import { toContainerStatus } from './containers.js';
import type { Containers, ImageLookup } from './containers.js';
import { toPodSandboxStatus } from './pod-sandbox.js';
import type { Sandboxes } from './pod-sandbox.js';
import type { CallContext } from './server.js';

const MAX_PENDING = 1000;

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
    const pending: ContainerEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = bus.subscribe((event) => {
      if (event.namespace !== ctx.namespace) return;
      pending.push(event);
      wake?.();
    });
    const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    try {
      while (!ctx.signal.aborted) {
        if (pending.length > MAX_PENDING) {
          throw new BerthError('RESOURCE_EXHAUSTED', `event stream fell ${MAX_PENDING} events behind; reconnect`);
        }
        const event = pending.shift();
        if (event === undefined) {
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          wake = undefined;
          continue;
        }
        await send(toResponse(event));
      }
    } finally {
      unsubscribe();
    }
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

/**
 * Admin Subscribe (`berth events`): every event on the bus (images, pods, containers, namespaces, content,
 * snapshots) that matches the request's topic prefixes and namespaces, as it happens, until the client goes.
 * Like CRI GetContainerEvents, a stream buffers up to MAX_PENDING events for a slow reader and past that ends
 * with RESOURCE_EXHAUSTED rather than holding berthd's memory hostage.
 */
import type { Event, SubscribeRequest } from '../api/gen/admin.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from '../cri/index.js';
import { matchesFilter, topicOf } from '../events/index.js';
import type { BerthEvent, EventFilter } from '../events/index.js';
import type { AdminEvents } from './deps.js';

export const MAX_PENDING = 1000;

export function toWireEvent(event: BerthEvent): Event {
  return {
    timestamp: event.atNs,
    namespace: event.namespace,
    topic: topicOf(event),
    payloadJson: JSON.stringify(event.fields),
  };
}

function filterOf(request: SubscribeRequest): EventFilter {
  for (const topic of request.topics) {
    if (!topic.startsWith('/')) {
      throw new BerthError('INVALID_ARGUMENT', `topic "${topic}" must start with "/" (like "/container/")`);
    }
  }
  return { topics: request.topics, namespaces: request.namespaces };
}

export function subscribe(bus: AdminEvents) {
  return async (
    request: SubscribeRequest,
    ctx: CallContext,
    send: (message: Event) => Promise<void>,
  ): Promise<void> => {
    const filter = filterOf(request);
    const pending: BerthEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = bus.subscribe((event) => {
      if (!matchesFilter(event, filter)) return;
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
        await send(toWireEvent(event));
      }
    } finally {
      unsubscribe();
    }
  };
}

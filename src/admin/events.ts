/**
 * Admin Subscribe (`berth events`): every event on the bus (images, pods, containers, namespaces, content,
 * snapshots) that matches the request's topic prefixes and namespaces, as it happens, until the client goes.
 * Like CRI GetContainerEvents, a slow reader is handled by pumpEvents (events/event-pump.ts).
 */
import type { Event, SubscribeRequest } from '../api/gen/admin.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from '../cri/index.js';
import { matchesFilter, pumpEvents, topicOf } from '../events/index.js';
import type { BerthEvent, EventFilter } from '../events/index.js';
import type { AdminEvents } from './deps.js';

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
    await pumpEvents<BerthEvent>({
      subscribe: (listener) => bus.subscribe(listener),
      accept: (event) => matchesFilter(event, filter),
      deliver: (event) => send(toWireEvent(event)),
      signal: ctx.signal,
    });
  };
}

/**
 * events: the in-process event bus. Container lifecycle events for CRI GetContainerEvents; events of every
 * kind (images, pods, containers, namespaces, content, snapshots) for the admin Subscribe stream.
 */
export { EventBus } from './event-bus.js';
export type { ContainerEvent, ContainerEventKind, Unsubscribe } from './event-bus.js';
export { EVENT_TYPES, fromContainerEvent, matchesFilter, topicOf, topicPrefixOf } from './berth-event.js';
export type { BerthEvent, EventActions, EventFields, EventFilter, EventSink, EventType } from './berth-event.js';
export { MAX_PENDING_EVENTS, pumpEvents } from './event-pump.js';
export type { EventPumpOptions } from './event-pump.js';

/** events: the in-process event bus (container lifecycle events for CRI GetContainerEvents). */
export { EventBus } from './event-bus.js';
export type { ContainerEvent, ContainerEventKind, Unsubscribe } from './event-bus.js';

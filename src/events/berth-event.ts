/**
 * The events `berth events` (admin Subscribe) streams: one shape for every kind of thing, so one bus carries
 * them all and one filter selects them. Topics are "/<type>/<action>" ("/image/pulled", "/pod/stopped").
 *
 * Who publishes: the domain service where the action happens for what both CRI and the admin service do
 * (images, pods, containers); the admin handlers for what only the admin service does (namespaces, content,
 * snapshots). A publisher never waits for subscribers: the bus calls them synchronously and each stream buffers
 * on its own side.
 */
import type { ContainerEvent, ContainerEventKind } from './event-bus.js';

export const EVENT_TYPES = Object.freeze(['image', 'pod', 'container', 'namespace', 'content', 'snapshot'] as const);
export type EventType = (typeof EVENT_TYPES)[number];

/** The actions of each type, past tense: what has happened. */
export interface EventActions {
  readonly image: 'pulled' | 'tagged' | 'removed' | 'loaded';
  readonly pod: 'created' | 'stopped' | 'removed';
  readonly container: ContainerEventKind;
  readonly namespace: 'created' | 'removed';
  readonly content: 'removed';
  readonly snapshot: 'removed';
}

/** Values of an event's fields: ids, names, sizes. Never CRI labels or annotations (untrusted, unbounded). */
export type EventFields = Readonly<Record<string, string | number>>;

export type BerthEvent = {
  readonly [T in EventType]: {
    readonly type: T;
    readonly action: EventActions[T];
    /** The containerd namespace; '' for node-wide things (content, snapshots). */
    readonly namespace: string;
    readonly atNs: bigint;
    readonly fields: EventFields;
  };
}[EventType];

/** Where domains publish (an EventBus<BerthEvent> in the daemon; a recording fake in tests). */
export interface EventSink {
  publish(event: BerthEvent): void;
}

export function topicOf(event: Pick<BerthEvent, 'type' | 'action'>): string {
  return `/${event.type}/${event.action}`;
}

/** The topic prefix that selects one type ("/image/"). */
export function topicPrefixOf(type: EventType): string {
  return `/${type}/`;
}

export interface EventFilter {
  /** Topic prefixes; empty: every topic. */
  readonly topics: readonly string[];
  /** Namespaces; empty: every namespace. Node-wide events (namespace '') always pass. */
  readonly namespaces: readonly string[];
}

export function matchesFilter(event: BerthEvent, filter: EventFilter): boolean {
  const topic = topicOf(event);
  if (filter.topics.length > 0 && !filter.topics.some((prefix) => topic.startsWith(prefix))) return false;
  if (event.namespace === '' || filter.namespaces.length === 0) return true;
  return filter.namespaces.includes(event.namespace);
}

/** A container lifecycle event (published for CRI GetContainerEvents) in the admin stream's shape. */
export function fromContainerEvent(event: ContainerEvent): BerthEvent {
  const fields: Record<string, string | number> = { id: event.containerId };
  if (event.name !== undefined && event.name !== '') fields['name'] = event.name;
  if (event.pod !== undefined && event.pod !== '') fields['pod'] = event.pod;
  if (event.exitCode !== undefined) fields['exitCode'] = event.exitCode;
  fields['podId'] = event.sandboxId;
  return { type: 'container', action: event.kind, namespace: event.namespace, atNs: event.atNs, fields };
}

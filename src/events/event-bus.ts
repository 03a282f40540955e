/**
 * In-process publish/subscribe for runtime events: container lifecycle events feed CRI GetContainerEvents
 * (kubelet's evented PLEG); events of every kind (berth-event.ts) feed the admin Subscribe (`berth events`). Listeners are called synchronously in
 * publish order; a slow consumer buffers on its own side (the stream handler) and is cut off there.
 */
export type Unsubscribe = () => void;

export class EventBus<T> {
  private readonly listeners = new Set<(event: T) => void>();

  subscribe(listener: (event: T) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: T): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}

export type ContainerEventKind = 'created' | 'started' | 'stopped' | 'deleted';

export interface ContainerEvent {
  readonly kind: ContainerEventKind;
  readonly namespace: string;
  readonly containerId: string;
  readonly sandboxId: string;
  readonly atNs: bigint;
  /** The container's metadata name (for `berth events`). */
  readonly name?: string;
  /** The pod's metadata namespace/name. */
  readonly pod?: string;
  /** stopped: the exit code. */
  readonly exitCode?: number;
}

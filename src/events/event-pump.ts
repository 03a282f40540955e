/**
 * Delivers bus events to one stream subscriber (CRI GetContainerEvents, admin Subscribe) in order, one send at
 * a time. Events queue while a send waits on a slow reader; past maxPending the stream ends with
 * RESOURCE_EXHAUSTED (the client reconnects and relists) rather than holding the daemon's memory hostage.
 */
import { BerthError } from '../base/errors.js';
import type { Unsubscribe } from './event-bus.js';

export const MAX_PENDING_EVENTS = 1000;

export interface EventPumpOptions<E> {
  /** Registers the listener with the bus; only events it passes are queued. */
  readonly subscribe: (listener: (event: E) => void) => Unsubscribe;
  readonly accept: (event: E) => boolean;
  /** Resolves once the event has been handed to the stream (waits for the reader). */
  readonly deliver: (event: E) => Promise<void>;
  /** Ends the pump: the client went away or the daemon is shutting down. */
  readonly signal: AbortSignal;
  readonly maxPending?: number;
}

/** Returns when signal aborts; throws RESOURCE_EXHAUSTED when the reader falls too far behind. */
export async function pumpEvents<E>(opts: EventPumpOptions<E>): Promise<void> {
  const maxPending = opts.maxPending ?? MAX_PENDING_EVENTS;
  const pending: E[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = opts.subscribe((event) => {
    if (!opts.accept(event)) return;
    pending.push(event);
    wake?.();
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    opts.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    while (!opts.signal.aborted) {
      if (pending.length > maxPending) {
        throw new BerthError('RESOURCE_EXHAUSTED', `event stream fell ${maxPending} events behind; reconnect`);
      }
      const event = pending.shift();
      if (event === undefined) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        wake = undefined;
        continue;
      }
      await opts.deliver(event);
    }
  } finally {
    unsubscribe();
    if (onAbort !== undefined) opts.signal.removeEventListener('abort', onAbort);
  }
}

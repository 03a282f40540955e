/**
 * What the CRI handlers need from the domains, as narrow interfaces (the daemon wires the real services).
 */
import type { Condition } from '../base/condition.js';
import type { Sandboxes } from './pod-sandbox.js';
import type { Containers } from './containers.js';
import type { ContainerEvent, EventBus } from '../events/index.js';
import type { StreamUrls } from './streaming.js';

export interface ReadinessCheck {
  check(): Promise<Condition>;
}

export interface RuntimeInfo {
  /** Berth's version (package.json). */
  readonly version: string;
  readonly cgroupDriver: 'cgroupfs' | 'systemd';
  /** Configured runtime handler names (runc, crun, ...). */
  readonly runtimeHandlers: readonly string[];
  /** The effective config with secrets redacted, for Status verbose info. */
  readonly redactedConfig: () => unknown;
}

export interface PodCidrs {
  get(): string[];
  update(value: string): void;
}

export interface RuntimeServiceDeps {
  readonly info: RuntimeInfo;
  readonly runtimeReadiness: ReadinessCheck;
  readonly networkReadiness: ReadinessCheck;
  readonly podCidrs: PodCidrs;
  readonly sandboxes: Sandboxes;
  readonly containers: Containers;
  readonly containerEvents: EventBus<ContainerEvent>;
  /** The stream server's URLs for Exec, Attach and PortForward. */
  readonly streams: StreamUrls;
  readonly nowNs: () => bigint;
}

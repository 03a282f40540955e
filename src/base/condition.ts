/** A readiness condition a domain reports (CRI RuntimeCondition without its type). */
export interface Condition {
  readonly isReady: boolean;
  /** CamelCase machine-readable reason when not ready, '' otherwise. */
  readonly reason: string;
  readonly message: string;
}

/** What a readiness probe found (`berth plugins`): ready or not, one line saying why, and what it checked. */
export interface ProbeResult {
  readonly isReady: boolean;
  /** Not ready: what is wrong and what to do. Ready: what was found (path, version). */
  readonly reason: string;
  readonly details: Readonly<Record<string, string>>;
}

/** A readiness condition a domain reports (CRI RuntimeCondition without its type). */
export interface Condition {
  readonly isReady: boolean;
  /** CamelCase machine-readable reason when not ready, '' otherwise. */
  readonly reason: string;
  readonly message: string;
}

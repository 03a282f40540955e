/**
 * Single-use tokens for stream URLs. Exec, Attach and PortForward store the CRI request here and answer with a
 * URL naming the token; the client (kubelet's proxy or crictl) then connects with it. The stored request is
 * the only source of the stdio/tty options: nothing in the URL can widen what was asked over gRPC.
 *
 * A token is taken once (a replayed URL gets 404), expires when unused for a minute, and at most a bounded
 * number wait at once, as kubelet's own request cache does: the oldest is dropped first.
 */
import { randomBytes } from 'node:crypto';

export const TOKEN_TTL_MS = 60_000;
export const MAX_PENDING_TOKENS = 1000;
/** 8 random bytes, base64url: unguessable within a token's minute, short enough for URLs. */
const TOKEN_BYTES = 8;

interface Pending<T> {
  readonly value: T;
  readonly expiresAtMs: number;
}

export class StreamTokens<T> {
  /** Insertion order is expiry order (same TTL for all), so the first entry is always the oldest. */
  private readonly pending = new Map<string, Pending<T>>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly maxPending = MAX_PENDING_TOKENS,
  ) {}

  issue(value: T): string {
    this.dropExpired();
    while (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next().value;
      if (oldest === undefined) break;
      this.pending.delete(oldest);
    }
    let token = randomBytes(TOKEN_BYTES).toString('base64url');
    while (this.pending.has(token)) token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.pending.set(token, { value, expiresAtMs: this.now() + this.ttlMs });
    return token;
  }

  /** The request behind token, once; undefined when unknown, used or expired. */
  take(token: string): T | undefined {
    const entry = this.pending.get(token);
    if (entry === undefined) return undefined;
    this.pending.delete(token);
    return entry.expiresAtMs > this.now() ? entry.value : undefined;
  }

  get size(): number {
    this.dropExpired();
    return this.pending.size;
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [token, entry] of this.pending) {
      if (entry.expiresAtMs > now) break;
      this.pending.delete(token);
    }
  }
}

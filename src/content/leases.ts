/**
 * Leases keep content that an operation still needs (a pull in progress) safe from GC before any image
 * record refers to it. In memory: an operation that dies with berthd needs no protection afterwards.
 */
import { randomBytes } from 'node:crypto';
import { BerthError } from '../base/errors.js';

interface Lease {
  readonly expiresAtMs: number;
  readonly digests: Set<string>;
}

export class LeaseManager {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  create(options: { expiresInMs?: number } = {}): string {
    const id = randomBytes(8).toString('hex');
    const ttl = options.expiresInMs ?? 24 * 3600 * 1000;
    this.leases.set(id, { expiresAtMs: this.nowMs() + ttl, digests: new Set() });
    return id;
  }

  addResource(leaseId: string, digest: string): void {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw new BerthError('NOT_FOUND', `lease "${leaseId}" not found`);
    lease.digests.add(digest);
  }

  delete(leaseId: string): void {
    this.leases.delete(leaseId);
  }

  /** Digests held by a live lease; expired leases are dropped on the way. */
  leasedDigests(): Set<string> {
    const now = this.nowMs();
    const out = new Set<string>();
    for (const [id, lease] of this.leases) {
      if (lease.expiresAtMs <= now) {
        this.leases.delete(id);
        continue;
      }
      for (const d of lease.digests) out.add(d);
    }
    return out;
  }
}

/**
 * Leases keep content that an operation still needs (a pull in progress) safe from GC before any image
 * record refers to it. In memory on purpose: an operation that dies with berthd needs no protection after it,
 * and a lease that outlives its operation (a bug, a hung pull) expires instead of pinning blobs forever.
 */
import { randomBytes } from 'node:crypto';
import { BerthError } from '../base/errors.js';
import { parseDigest } from './digest.js';

interface Lease {
  readonly expiresAtMs: number;
  readonly digests: Set<string>;
}

const DEFAULT_LEASE_MS = 24 * 3600 * 1000;

export class LeaseManager {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** Returns the lease id (random unless given; ALREADY_EXISTS when a live lease has it). */
  create(options: { id?: string; expiresInMs?: number } = {}): string {
    this.dropExpired();
    const id = options.id ?? randomBytes(8).toString('hex');
    if (this.leases.has(id)) throw new BerthError('ALREADY_EXISTS', `lease "${id}" already exists`);
    const ttlMs = options.expiresInMs ?? DEFAULT_LEASE_MS;
    this.leases.set(id, { expiresAtMs: this.nowMs() + ttlMs, digests: new Set() });
    return id;
  }

  /** Protects digest while the lease lives; NOT_FOUND when the lease is gone or expired. */
  addResource(leaseId: string, digest: string): void {
    parseDigest(digest);
    this.dropExpired();
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw new BerthError('NOT_FOUND', `lease "${leaseId}" not found`);
    lease.digests.add(digest);
  }

  /** Idempotent: releasing twice (a finally after an error path) is fine. */
  delete(leaseId: string): void {
    this.leases.delete(leaseId);
  }

  isLeased(digest: string): boolean {
    this.dropExpired();
    for (const lease of this.leases.values()) if (lease.digests.has(digest)) return true;
    return false;
  }

  /** Digests held by a live lease. */
  leasedDigests(): Set<string> {
    this.dropExpired();
    const out = new Set<string>();
    for (const lease of this.leases.values()) for (const d of lease.digests) out.add(d);
    return out;
  }

  private dropExpired(): void {
    const now = this.nowMs();
    for (const [id, lease] of this.leases) if (lease.expiresAtMs <= now) this.leases.delete(id);
  }
}

/**
 * Per-pod record of what ADD did, at <cacheDir>/<podId>.json, so DEL and CHECK use the config that was in
 * force at ADD time (even if conf_dir changed since) and the ADD result as prevResult, as libcni's result
 * cache does. Written before the first plugin runs (state "adding") and again with the result ("ready"),
 * so a crash during ADD still leaves enough to undo it. Files are replaced atomically.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BerthError, messageOf } from '../../base/errors.js';
import { ensureDir, writeFileAtomic } from '../../base/fs.js';
import type { CniBandwidth, CniDns, CniPortMapping, JsonObject } from './types.js';

const CACHE_FORMAT = 1;

const EntrySchema = z.object({
  format: z.literal(CACHE_FORMAT),
  podId: z.string(),
  state: z.enum(['adding', 'ready']),
  ifName: z.string(),
  /** The network config list as used: { name, cniVersion, disableCheck?, plugins: [...] }. */
  network: z.record(z.string(), z.unknown()),
  /** The final ADD result; absent while adding. */
  result: z.record(z.string(), z.unknown()).optional(),
  /** The capability data ADD had, for DEL callers that no longer hold it (portmap needs it to clean up). */
  portMappings: z
    .array(
      z.object({
        hostPort: z.number(),
        containerPort: z.number(),
        protocol: z.enum(['tcp', 'udp', 'sctp']),
        hostIP: z.string().optional(),
      }),
    )
    .optional(),
  bandwidth: z.record(z.string(), z.number()).optional(),
  dns: z
    .object({
      servers: z.array(z.string()).optional(),
      searches: z.array(z.string()).optional(),
      options: z.array(z.string()).optional(),
    })
    .optional(),
});

export interface CacheEntry {
  readonly podId: string;
  readonly state: 'adding' | 'ready';
  readonly ifName: string;
  readonly network: JsonObject;
  readonly result?: JsonObject;
  readonly portMappings?: readonly CniPortMapping[];
  readonly bandwidth?: CniBandwidth;
  readonly dns?: CniDns;
}

export class ResultCache {
  constructor(private readonly dir: string) {}

  private pathOf(podId: string): string {
    return join(this.dir, `${podId}.json`);
  }

  /** The entry, or undefined when the pod has none. A corrupt file is DATA_LOSS. */
  async read(podId: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(podId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new BerthError('UNAVAILABLE', `read CNI result cache of pod ${podId}: ${messageOf(err)}`, { cause: err });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new BerthError('DATA_LOSS', `CNI result cache of pod ${podId} is not JSON`, { cause: err });
    }
    const parsed = EntrySchema.safeParse(doc);
    if (!parsed.success || parsed.data.podId !== podId) {
      throw new BerthError('DATA_LOSS', `CNI result cache of pod ${podId} is invalid`);
    }
    return parsed.data;
  }

  async write(entry: CacheEntry): Promise<void> {
    await ensureDir(this.dir, 0o700);
    await writeFileAtomic(this.pathOf(entry.podId), `${JSON.stringify({ format: CACHE_FORMAT, ...entry })}\n`, 0o600);
  }

  async remove(podId: string): Promise<void> {
    await rm(this.pathOf(podId), { force: true });
  }
}

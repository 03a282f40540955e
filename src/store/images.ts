/** Repository of image name records (table images, migration 2). */
import type { Database, Statement } from 'better-sqlite3';
import { recording } from './database.js';

export interface ImageRecord {
  readonly namespace: string;
  /** Normalized reference: "docker.io/library/busybox:latest" or "docker.io/library/busybox@sha256:…". */
  readonly name: string;
  readonly targetDigest: string;
  readonly targetMediaType: string;
  readonly targetSizeBytes: number;
  /** The CRI image id: digest of the image config. */
  readonly configDigest: string;
  readonly createdAtNs: bigint;
  readonly updatedAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
}

interface Row {
  namespace: string;
  name: string;
  target_digest: string;
  target_media_type: string;
  target_size: bigint;
  config_digest: string;
  created_at_ns: bigint;
  updated_at_ns: bigint;
  labels: string;
}

const COLUMNS =
  'namespace, name, target_digest, target_media_type, target_size, config_digest, created_at_ns, updated_at_ns, labels';

export class ImageRepository {
  private readonly allStmt: Statement<[], Row>;
  private readonly upsertStmt: Statement<[string, string, string, string, number, string, bigint, bigint, string]>;
  private readonly deleteStmt: Statement<[string, string]>;

  constructor(private readonly db: Database) {
    this.allStmt = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM images ORDER BY namespace, name`).safeIntegers();
    // A re-pull that moves a tag keeps the record's creation time and updates the rest.
    this.upsertStmt = db.prepare(
      `INSERT INTO images (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(namespace, name) DO UPDATE SET
         target_digest = excluded.target_digest, target_media_type = excluded.target_media_type,
         target_size = excluded.target_size, config_digest = excluded.config_digest,
         updated_at_ns = excluded.updated_at_ns, labels = excluded.labels`,
    );
    this.deleteStmt = db.prepare('DELETE FROM images WHERE namespace = ? AND name = ?');
  }

  /** Every record; read once at startup to build the in-memory index. */
  all(): ImageRecord[] {
    return this.allStmt.all().map(toRecord);
  }

  /** Writes several names in one transaction (a pull records its tag and its digest name together). */
  putAll(records: readonly ImageRecord[]): void {
    const what = `image ${records.map((r) => r.name).join(', ')}`;
    recording(what, () =>
      this.db.transaction(() => {
        for (const r of records) {
          this.upsertStmt.run(
            r.namespace,
            r.name,
            r.targetDigest,
            r.targetMediaType,
            r.targetSizeBytes,
            r.configDigest,
            r.createdAtNs,
            r.updatedAtNs,
            JSON.stringify(r.labels),
          );
        }
      })(),
    );
  }

  /** Removes names in one transaction; returns how many existed. */
  deleteAll(namespace: string, names: readonly string[]): number {
    return this.db.transaction(() => names.reduce((n, name) => n + this.deleteStmt.run(namespace, name).changes, 0))();
  }
}

function toRecord(row: Row): ImageRecord {
  const labels: unknown = JSON.parse(row.labels);
  return {
    namespace: row.namespace,
    name: row.name,
    targetDigest: row.target_digest,
    targetMediaType: row.target_media_type,
    targetSizeBytes: Number(row.target_size),
    configDigest: row.config_digest,
    createdAtNs: BigInt(row.created_at_ns),
    updatedAtNs: BigInt(row.updated_at_ns),
    labels: typeof labels === 'object' && labels !== null ? (labels as Record<string, string>) : {},
  };
}

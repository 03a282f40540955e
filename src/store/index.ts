/**
 * store: Berth's metadata, one SQLite database per root at <root>/meta.db (WAL), with versioned migrations
 * (migrations.ts is the on-disk schema) and one typed repository per record kind. better-sqlite3 is
 * synchronous: use it on mutations and at startup, never per item on a hot read path.
 */
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { openDatabase } from './database.js';
import { NamespaceRepository } from './namespaces.js';
import { SettingsRepository } from './settings.js';
import { ImageRepository } from './images.js';
import { SandboxRepository } from './sandboxes.js';
import { ContainerRepository } from './containers.js';

export { openDatabase, schemaVersion } from './database.js';
export { BUILTIN_NAMESPACES, MIGRATIONS } from './migrations.js';
export type { Migration } from './migrations.js';
export { NamespaceRepository, validateNamespaceName } from './namespaces.js';
export type { NamespaceRecord } from './namespaces.js';
export { SettingsRepository } from './settings.js';
export { ImageRepository } from './images.js';
export type { ImageRecord } from './images.js';
export { SandboxRepository } from './sandboxes.js';
export type { SandboxRecord, SandboxState } from './sandboxes.js';
export { ContainerRepository } from './containers.js';
export type { ContainerRecord, ContainerState } from './containers.js';

export const META_DB_NAME = 'meta.db';

/** The open metadata store with its repositories. close() is idempotent. */
export class MetadataStore {
  readonly namespaces: NamespaceRepository;
  readonly settings: SettingsRepository;
  readonly images: ImageRepository;
  readonly sandboxes: SandboxRepository;
  readonly containers: ContainerRepository;
  private isClosed = false;

  private constructor(
    readonly db: Database,
    nowNs: () => bigint,
  ) {
    this.namespaces = new NamespaceRepository(db, nowNs);
    this.settings = new SettingsRepository(db);
    this.images = new ImageRepository(db);
    this.sandboxes = new SandboxRepository(db);
    this.containers = new ContainerRepository(db);
    this.namespaces.ensureBuiltins();
  }

  static open(root: string, nowNs: () => bigint): MetadataStore {
    return new MetadataStore(openDatabase(join(root, META_DB_NAME), { exclusive: true }), nowNs);
  }

  static openAt(path: string, nowNs: () => bigint, exclusive: boolean): MetadataStore {
    return new MetadataStore(openDatabase(path, { exclusive }), nowNs);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.db.close();
  }
}

/**
 * The metadata schema, as an append-only list of migrations. PRAGMA user_version records how many ran.
 * Never edit a migration that has shipped: add a new one.
 *
 * Tables (v1):
 *   namespaces(name PK, created_at_ns, labels JSON)  containerd-style namespaces; k8s.io, default, moby always exist
 *   settings(key PK, value)                          small daemon-wide values (e.g. the pod CIDR kubelet set)
 *
 * Tables (v2):
 *   images(namespace, name) PK                       one row per image name (containerd's image record): a
 *                                                    normalized reference "docker.io/library/busybox:latest"
 *                                                    or "…@sha256:…", pointing at a manifest (target) and the
 *                                                    image's config digest (the CRI image id). Blobs live in
 *                                                    the content store; rows are written only after every blob
 *                                                    and layer snapshot of the image is committed.
 *
 * Tables (v3):
 *   sandboxes(id PK, name UNIQUE)                    one row per pod sandbox. `name` is the reserved CRI name
 *                                                    <name>_<namespace>_<uid>_<attempt>; `state` is creating
 *                                                    (row written first to reserve the name; a crash leaves it
 *                                                    for startup cleanup), ready or notready. `config` is the
 *                                                    CRI PodSandboxConfig as JSON; `network` the pinned
 *                                                    namespaces, IPs and CNI result as JSON.
 *
 * Tables (v4):
 *   containers(id PK, name UNIQUE)                   one row per container. `name` is the reserved CRI name
 *                                                    <name>_<pod name>_<pod namespace>_<pod uid>_<attempt>;
 *                                                    `state` creating (name reserved, resources being made),
 *                                                    created, running or exited; `config` the CRI
 *                                                    ContainerConfig as JSON; `status` pid, times, exit code,
 *                                                    reason and message as JSON.
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly up: (db: Database) => void;
}

export const BUILTIN_NAMESPACES = Object.freeze(['k8s.io', 'default', 'moby'] as const);

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'namespaces and settings',
    up: (db: Database) => {
      db.exec(`
        CREATE TABLE namespaces (
          name TEXT PRIMARY KEY NOT NULL,
          created_at_ns INTEGER NOT NULL,
          labels TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
        CREATE TABLE settings (
          key TEXT PRIMARY KEY NOT NULL,
          value TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    description: 'images',
    up: (db: Database) => {
      db.exec(`
        CREATE TABLE images (
          namespace TEXT NOT NULL REFERENCES namespaces(name),
          name TEXT NOT NULL,
          target_digest TEXT NOT NULL,
          target_media_type TEXT NOT NULL,
          target_size INTEGER NOT NULL,
          config_digest TEXT NOT NULL,
          created_at_ns INTEGER NOT NULL,
          updated_at_ns INTEGER NOT NULL,
          labels TEXT NOT NULL DEFAULT '{}',
          PRIMARY KEY (namespace, name)
        ) STRICT;
        CREATE INDEX images_by_config ON images(namespace, config_digest);
      `);
    },
  },
  {
    version: 3,
    description: 'pod sandboxes',
    up: (db: Database) => {
      db.exec(`
        CREATE TABLE sandboxes (
          id TEXT PRIMARY KEY NOT NULL,
          namespace TEXT NOT NULL REFERENCES namespaces(name),
          name TEXT NOT NULL UNIQUE,
          state TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'notready')),
          runtime_handler TEXT NOT NULL,
          created_at_ns INTEGER NOT NULL,
          config TEXT NOT NULL,
          network TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
      `);
    },
  },
  {
    version: 4,
    description: 'containers',
    up: (db: Database) => {
      db.exec(`
        CREATE TABLE containers (
          id TEXT PRIMARY KEY NOT NULL,
          namespace TEXT NOT NULL REFERENCES namespaces(name),
          sandbox_id TEXT NOT NULL REFERENCES sandboxes(id),
          name TEXT NOT NULL UNIQUE,
          state TEXT NOT NULL CHECK (state IN ('creating', 'created', 'running', 'exited')),
          image_id TEXT NOT NULL,
          created_at_ns INTEGER NOT NULL,
          config TEXT NOT NULL,
          status TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
        CREATE INDEX containers_by_sandbox ON containers(sandbox_id);
      `);
    },
  },
]);

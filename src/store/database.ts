/**
 * Opens <root>/meta.db (better-sqlite3, WAL) and runs pending migrations in one transaction each.
 *
 * The database also is berthd's single-instance lock: it is opened in EXCLUSIVE locking mode and a write
 * is made at once, so a second berthd on the same root fails here with SQLITE_BUSY. The lock is a kernel
 * file lock, so it goes away with the process, even after kill -9: there is no stale pid file to clean.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { BerthError, messageOf } from '../base/errors.js';
import { MIGRATIONS } from './migrations.js';
import type { Migration } from './migrations.js';

export interface OpenOptions {
  /** Hold an exclusive lock for the life of the connection (berthd). */
  readonly exclusive: boolean;
  readonly migrations?: readonly Migration[];
}

export function openDatabase(path: string, options: OpenOptions): Database {
  let db: Database;
  try {
    db = new BetterSqlite3(path, { timeout: 0 });
  } catch (err) {
    throw new BerthError('FAILED_PRECONDITION', `open metadata database ${path}: ${messageOf(err)}`, { cause: err });
  }
  try {
    if (options.exclusive) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // A write transaction takes the exclusive lock now rather than at the first mutation.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
    migrate(db, options.migrations ?? MIGRATIONS);
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new BerthError(
        'FAILED_PRECONDITION',
        `metadata database ${path} is locked: another berthd is already running with this root`,
        { cause: err },
      );
    }
    throw new BerthError('INTERNAL', `prepare metadata database ${path}: ${messageOf(err)}`, { cause: err });
  }
  return db;
}

/**
 * Runs a write, turning a full disk (SQLITE_FULL) into RESOURCE_EXHAUSTED that says what could not be recorded:
 * SQLite's own "database or disk is full" names neither.
 */
export function recording<T>(what: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'SQLITE_FULL') throw err;
    throw new BerthError(
      'RESOURCE_EXHAUSTED',
      `record ${what}: no space left on the disk of the metadata database (SQLITE_FULL)`,
      {
        cause: err,
      },
    );
  }
}

export function schemaVersion(db: Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

function migrate(db: Database, migrations: readonly Migration[]): void {
  const current = schemaVersion(db);
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > latest) {
    throw new Error(`schema version ${current} is newer than this berthd knows (${latest}); refusing to downgrade`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

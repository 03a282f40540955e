/** Repository of containerd-style namespaces. Names follow containerd's rule (a DNS-label-like path). */
import type { Database, Statement } from 'better-sqlite3';
import { BerthError } from '../base/errors.js';
import { BUILTIN_NAMESPACES } from './migrations.js';

export interface NamespaceRecord {
  readonly name: string;
  readonly createdAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
}

// containerd: identifiers.Validate, labels joined by dots, each [a-z0-9]([-_a-z0-9]*[a-z0-9])?, at most 76 chars.
const NAMESPACE_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*$/;

export function validateNamespaceName(name: string): void {
  if (name.length === 0 || name.length > 76 || !NAMESPACE_RE.test(name)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `namespace name "${name}" is invalid: letters, digits, "-", "_" and "." separated labels, at most 76 characters`,
    );
  }
}

interface Row {
  name: string;
  created_at_ns: bigint;
  labels: string;
}

export class NamespaceRepository {
  private readonly listStmt: Statement<[], Row>;
  private readonly getStmt: Statement<[string], Row>;
  private readonly insertStmt: Statement<[string, bigint, string]>;
  private readonly deleteStmt: Statement<[string]>;
  private readonly imageCountStmt: Statement<[string], { n: number }>;
  private readonly sandboxCountStmt: Statement<[string], { n: number }>;

  constructor(
    private readonly db: Database,
    private readonly nowNs: () => bigint,
  ) {
    this.listStmt = db
      .prepare<[], Row>('SELECT name, created_at_ns, labels FROM namespaces ORDER BY name')
      .safeIntegers();
    this.getStmt = db
      .prepare<[string], Row>('SELECT name, created_at_ns, labels FROM namespaces WHERE name = ?')
      .safeIntegers();
    this.insertStmt = db.prepare('INSERT INTO namespaces (name, created_at_ns, labels) VALUES (?, ?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM namespaces WHERE name = ?');
    this.imageCountStmt = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM images WHERE namespace = ?');
    this.sandboxCountStmt = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM sandboxes WHERE namespace = ?',
    );
  }

  /** Makes sure the built-in namespaces exist (run at every start; a no-op after the first). */
  ensureBuiltins(): void {
    this.db.transaction(() => {
      for (const name of BUILTIN_NAMESPACES) {
        if (this.getStmt.get(name) === undefined) this.insertStmt.run(name, this.nowNs(), '{}');
      }
    })();
  }

  list(): NamespaceRecord[] {
    return this.listStmt.all().map(toRecord);
  }

  get(name: string): NamespaceRecord {
    const row = this.getStmt.get(name);
    if (row === undefined) throw new BerthError('NOT_FOUND', `namespace "${name}" not found`);
    return toRecord(row);
  }

  create(name: string, labels: Readonly<Record<string, string>> = {}): NamespaceRecord {
    validateNamespaceName(name);
    if (this.getStmt.get(name) !== undefined) {
      throw new BerthError('ALREADY_EXISTS', `namespace "${name}" already exists`);
    }
    const createdAtNs = this.nowNs();
    this.insertStmt.run(name, createdAtNs, JSON.stringify(labels));
    return { name, createdAtNs, labels: { ...labels } };
  }

  /** Removes an empty namespace. TODO(#4, #5): also refuse while it holds pods or containers. */
  remove(name: string): void {
    if ((BUILTIN_NAMESPACES as readonly string[]).includes(name)) {
      throw new BerthError('FAILED_PRECONDITION', `namespace "${name}" is built in and cannot be removed`);
    }
    const images = this.imageCountStmt.get(name)?.n ?? 0;
    if (images > 0) {
      throw new BerthError('FAILED_PRECONDITION', `namespace "${name}" is not empty: it holds ${images} image name(s)`);
    }
    const sandboxes = this.sandboxCountStmt.get(name)?.n ?? 0;
    if (sandboxes > 0) {
      throw new BerthError('FAILED_PRECONDITION', `namespace "${name}" is not empty: it holds ${sandboxes} pod(s)`);
    }
    if (this.deleteStmt.run(name).changes === 0) {
      throw new BerthError('NOT_FOUND', `namespace "${name}" not found`);
    }
  }
}

function toRecord(row: Row): NamespaceRecord {
  const labels: unknown = JSON.parse(row.labels);
  return {
    name: row.name,
    createdAtNs: BigInt(row.created_at_ns),
    labels: typeof labels === 'object' && labels !== null ? (labels as Record<string, string>) : {},
  };
}

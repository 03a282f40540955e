/** Repository of pod sandbox records (table sandboxes, migration 3). */
import type { Database, Statement } from 'better-sqlite3';
import { BerthError } from '../base/errors.js';
import { recording } from './database.js';

export type SandboxState = 'creating' | 'ready' | 'notready';

export interface SandboxRecord {
  /** 64 lowercase hex. */
  readonly id: string;
  readonly namespace: string;
  /** Reserved CRI name: <name>_<namespace>_<uid>_<attempt>. */
  readonly name: string;
  readonly state: SandboxState;
  readonly runtimeHandler: string;
  readonly createdAtNs: bigint;
  /** CRI PodSandboxConfig as JSON (PodSandboxConfig.toJSON). */
  readonly config: string;
  /** Pinned namespace paths, IPs, CNI result: JSON owned by the sandbox domain. */
  readonly network: string;
}

interface Row {
  id: string;
  namespace: string;
  name: string;
  state: string;
  runtime_handler: string;
  created_at_ns: bigint;
  config: string;
  network: string;
}

const COLUMNS = 'id, namespace, name, state, runtime_handler, created_at_ns, config, network';

export class SandboxRepository {
  private readonly allStmt: Statement<[], Row>;
  private readonly insertStmt: Statement<[string, string, string, string, string, bigint, string, string]>;
  private readonly updateStmt: Statement<[string, string, string]>;
  private readonly deleteStmt: Statement<[string]>;
  private readonly byNameStmt: Statement<[string], { id: string }>;

  constructor(db: Database) {
    this.allStmt = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM sandboxes ORDER BY created_at_ns, id`).safeIntegers();
    this.insertStmt = db.prepare(`INSERT INTO sandboxes (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.updateStmt = db.prepare('UPDATE sandboxes SET state = ?, network = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM sandboxes WHERE id = ?');
    this.byNameStmt = db.prepare<[string], { id: string }>('SELECT id FROM sandboxes WHERE name = ?');
  }

  all(): SandboxRecord[] {
    return this.allStmt.all().map(toRecord);
  }

  /** Reserves the name: ALREADY_EXISTS naming the holder when another sandbox has it. */
  insert(r: SandboxRecord): void {
    const holder = this.byNameStmt.get(r.name);
    if (holder !== undefined) {
      throw new BerthError('ALREADY_EXISTS', `pod sandbox name "${r.name}" is reserved by sandbox ${holder.id}`);
    }
    recording(`pod sandbox ${r.id}`, () =>
      this.insertStmt.run(r.id, r.namespace, r.name, r.state, r.runtimeHandler, r.createdAtNs, r.config, r.network),
    );
  }

  update(id: string, state: SandboxState, network: string): void {
    this.updateStmt.run(state, network, id);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }
}

function toRecord(row: Row): SandboxRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    state: row.state as SandboxState,
    runtimeHandler: row.runtime_handler,
    createdAtNs: row.created_at_ns,
    config: row.config,
    network: row.network,
  };
}

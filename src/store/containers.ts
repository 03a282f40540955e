/** Repository of container records (table containers, migration 4). */
import type { Database, Statement } from 'better-sqlite3';
import { BerthError } from '../base/errors.js';
import { recording } from './database.js';

export type ContainerState = 'creating' | 'created' | 'running' | 'exited';

export interface ContainerRecord {
  /** 64 lowercase hex. */
  readonly id: string;
  readonly namespace: string;
  readonly sandboxId: string;
  /** Reserved CRI name: <name>_<pod name>_<pod namespace>_<pod uid>_<attempt>. */
  readonly name: string;
  readonly state: ContainerState;
  /** The CRI image id (config digest) the container was created from. */
  readonly imageId: string;
  readonly createdAtNs: bigint;
  /** CRI ContainerConfig as JSON. */
  readonly config: string;
  /** Mutable status (pid, times, exit code, reason...) as JSON owned by the runtime domain. */
  readonly status: string;
}

interface Row {
  id: string;
  namespace: string;
  sandbox_id: string;
  name: string;
  state: string;
  image_id: string;
  created_at_ns: bigint;
  config: string;
  status: string;
}

const COLUMNS = 'id, namespace, sandbox_id, name, state, image_id, created_at_ns, config, status';

export class ContainerRepository {
  private readonly allStmt: Statement<[], Row>;
  private readonly insertStmt: Statement<[string, string, string, string, string, string, bigint, string, string]>;
  private readonly updateStmt: Statement<[string, string, string]>;
  private readonly deleteStmt: Statement<[string]>;
  private readonly configStmt: Statement<[string, string]>;
  private readonly byNameStmt: Statement<[string], { id: string }>;

  constructor(db: Database) {
    this.allStmt = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM containers ORDER BY created_at_ns, id`).safeIntegers();
    this.insertStmt = db.prepare(`INSERT INTO containers (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.updateStmt = db.prepare('UPDATE containers SET state = ?, status = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM containers WHERE id = ?');
    this.configStmt = db.prepare('UPDATE containers SET config = ? WHERE id = ?');
    this.byNameStmt = db.prepare<[string], { id: string }>('SELECT id FROM containers WHERE name = ?');
  }

  all(): ContainerRecord[] {
    return this.allStmt.all().map(toRecord);
  }

  /** Reserves the name: ALREADY_EXISTS naming the holder when another container has it. */
  insert(r: ContainerRecord): void {
    const holder = this.byNameStmt.get(r.name);
    if (holder !== undefined) {
      throw new BerthError('ALREADY_EXISTS', `container name "${r.name}" is reserved by container ${holder.id}`);
    }
    recording(`container ${r.id}`, () =>
      this.insertStmt.run(
        r.id,
        r.namespace,
        r.sandboxId,
        r.name,
        r.state,
        r.imageId,
        r.createdAtNs,
        r.config,
        r.status,
      ),
    );
  }

  update(id: string, state: ContainerState, status: string): void {
    this.updateStmt.run(state, status, id);
  }

  /** The config after UpdateContainerResources changed its resources. */
  updateConfig(id: string, config: string): void {
    this.configStmt.run(config, id);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }
}

function toRecord(row: Row): ContainerRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    sandboxId: row.sandbox_id,
    name: row.name,
    state: row.state as ContainerState,
    imageId: row.image_id,
    createdAtNs: row.created_at_ns,
    config: row.config,
    status: row.status,
  };
}

/** Small daemon-wide key/value settings that must survive a restart (e.g. the pod CIDR from kubelet). */
import type { Database, Statement } from 'better-sqlite3';

export class SettingsRepository {
  private readonly getStmt: Statement<[string], { value: string }>;
  private readonly putStmt: Statement<[string, string]>;

  constructor(db: Database) {
    this.getStmt = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
    this.putStmt = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.putStmt.run(key, value);
  }
}

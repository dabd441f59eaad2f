/**
 * `storage: sqlite:PATH` with Node's built-in `node:sqlite` (no native addon). The driver is
 * synchronous, so every statement is prepared once, and the request log (the one write per
 * request) is written in batches, one transaction each, by a thread of its own on its own
 * connection (sqlite-log-worker.ts): a batch of hundreds of records costs the event loop the
 * hand-over, not the milliseconds of the inserts.
 *
 * Several processes may share the file (`switchyard keys create` next to a running `serve`):
 * WAL mode lets readers run beside the writer, a busy timeout makes a writer wait for another's
 * lock instead of failing, and writes take the lock up front (`BEGIN IMMEDIATE`) so two writers
 * never deadlock upgrading a read lock.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RequestRecord } from '../telemetry/record.ts';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  KEY_COLUMNS,
  keyConflictMessage,
  keyValues,
  patchAssignments,
  REQUEST_COLUMNS,
  rowToKey,
  rowToRequest,
} from './rows.ts';
import { scopeText, utcDay } from './spend.ts';
import { SqliteLogThread, sqliteValue } from './sqlite-log-thread.ts';
import {
  type KeyPatch,
  type KeyRecord,
  type RequestQuery,
  type SpendScope,
  type Store,
  StoreConflictError,
  StoreUnavailableError,
  type UsageGroupBy,
  type UsageRow,
} from './types.ts';
import { sortUsageRows, USAGE_GROUP_COLUMN, usageRow, usageSql } from './usage.ts';

export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** Retention deletes this many rows per statement, yielding between them, so it never holds the event loop for long. */
const DELETE_CHUNK = 5_000;

const SQLITE_CONSTRAINT = 19;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly listStatements = new Map<string, StatementSync>();
  private readonly usageStatements = new Map<UsageGroupBy, StatementSync>();

  private readonly db: DatabaseSync;
  private readonly path: string;
  private readonly logThread: SqliteLogThread;

  private constructor(db: DatabaseSync, path: string, busyTimeoutMs: number) {
    this.db = db;
    this.path = path;
    this.statements = prepareStatements(db);
    this.logThread = new SqliteLogThread({ path, busyTimeoutMs });
  }

  /** Opens (creating the file and its folder if needed) and migrates. */
  static open(path: string, busyTimeoutMs = DEFAULT_SQLITE_BUSY_TIMEOUT_MS): SqliteStore {
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new DatabaseSync(path, { timeout: busyTimeoutMs });
      db.exec('PRAGMA journal_mode = WAL');
      // In WAL mode NORMAL is safe against corruption; a power cut may lose the last commits,
      // which for a request log is the right price for not syncing every batch.
      db.exec('PRAGMA synchronous = NORMAL');
      migrate(db);
      return new SqliteStore(db, path, busyTimeoutMs);
    } catch (err) {
      if (db?.isOpen) db.close();
      throw unavailable(path, err);
    }
  }

  async insertKey(key: KeyRecord): Promise<void> {
    this.write(() => {
      this.statements.insertKey.run(...keyValues(key).map(sqliteValue));
      this.statements.bumpKeysVersion.run();
    }, key);
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    const row = this.read(() => this.statements.getKey.get(id));
    return row && rowToKey(row);
  }

  async findKeyByHash(keyHash: string): Promise<KeyRecord | undefined> {
    const row = this.read(() => this.statements.findKeyByHash.get(keyHash));
    return row && rowToKey(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.read(() => this.statements.listKeys.all()).map(rowToKey);
  }

  async updateKey(id: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    const assignments = patchAssignments(patch);
    // Patches touch a handful of columns in a handful of combinations: preparing per call is fine.
    const set = assignments.length > 0 ? assignments.map(([c]) => `${c} = ?`).join(', ') : 'id = id';
    const row = this.write(
      () => {
        const updated = this.db
          .prepare(`UPDATE keys SET ${set} WHERE id = ? RETURNING *`)
          .get(...assignments.map(([, v]) => sqliteValue(v)), id);
        if (updated) this.statements.bumpKeysVersion.run();
        return updated;
      },
      { id, ...(patch.name === undefined ? {} : { name: patch.name }) },
    );
    return row && rowToKey(row);
  }

  async keysVersion(): Promise<number> {
    const row = this.read(() => this.statements.keysVersion.get());
    return Number(row?.value ?? 0);
  }

  /** On the writing thread (sqlite-log-worker.ts): the batch never holds this thread's event loop. */
  async insertRequests(records: readonly RequestRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.logThread.write(records);
    } catch (err) {
      throw unavailable(this.path, err);
    }
  }

  async listRequests(query: RequestQuery): Promise<RequestRecord[]> {
    const filters: string[] = [];
    const values: SQLInputValue[] = [];
    if (query.keyName !== undefined) {
      filters.push('key_name = ?');
      values.push(query.keyName);
    }
    if (query.model !== undefined) {
      filters.push('model = ?');
      values.push(query.model);
    }
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : '';
    let statement = this.listStatements.get(where);
    if (!statement) {
      statement = this.db.prepare(
        `SELECT * FROM requests ${where} ORDER BY started_at_ms DESC, seq DESC LIMIT ?`,
      );
      this.listStatements.set(where, statement);
    }
    const prepared = statement;
    return this.read(() => prepared.all(...values, Math.max(0, Math.floor(query.limit)))).map(rowToRequest);
  }

  async usage(groupBy: UsageGroupBy, fromMs: number, toMs: number): Promise<UsageRow[]> {
    let statement = this.usageStatements.get(groupBy);
    if (!statement) {
      statement = this.db.prepare(usageSql(USAGE_GROUP_COLUMN[groupBy]));
      this.usageStatements.set(groupBy, statement);
    }
    const prepared = statement;
    const rows = this.read(() => prepared.all(fromMs, toMs));
    return sortUsageRows(rows.map(usageRow));
  }

  async deleteRequestsBefore(ms: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { changes } = this.write(() => this.statements.deleteChunk.run(ms, DELETE_CHUNK));
      deleted += Number(changes);
      if (Number(changes) < DELETE_CHUNK) return deleted;
      await nextTurn();
    }
  }

  async spendSince(scope: SpendScope, fromMs: number): Promise<number> {
    const row = this.read(() => this.statements.spendSince.get(scopeText(scope), utcDay(fromMs)));
    return Number(row?.usd ?? 0);
  }

  async close(): Promise<void> {
    await this.logThread.close();
    if (this.db.isOpen) this.db.close();
  }

  private read<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw unavailable(this.path, err);
    }
  }

  /** Runs `run` in a write transaction; a unique-rule failure on `key` becomes a StoreConflictError. */
  private write<T>(run: () => T, key?: { id?: string; name?: string }): T {
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = run();
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      if (key && isConstraintError(err)) throw new StoreConflictError(keyConflictMessage(err.message, key));
      throw unavailable(this.path, err);
    }
  }
}

/** The request log's statements, run by the writing thread (sqlite-log-worker.ts). */
export function insertRequestSql(): string {
  const columns = REQUEST_COLUMNS.map((c) => c.name);
  return `INSERT INTO requests (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
}

export const ADD_SPEND_SQL = `INSERT INTO spend_daily (scope, day, usd, requests) VALUES (?, ?, ?, ?)
  ON CONFLICT (scope, day) DO UPDATE SET usd = usd + excluded.usd, requests = requests + excluded.requests`;

function prepareStatements(db: DatabaseSync) {
  const keyColumns = KEY_COLUMNS.map((c) => c.name);
  return {
    insertKey: db.prepare(
      `INSERT INTO keys (${keyColumns.join(', ')}) VALUES (${keyColumns.map(() => '?').join(', ')})`,
    ),
    getKey: db.prepare('SELECT * FROM keys WHERE id = ?'),
    findKeyByHash: db.prepare('SELECT * FROM keys WHERE key_hash = ?'),
    listKeys: db.prepare('SELECT * FROM keys ORDER BY created_at_ms, id'),
    bumpKeysVersion: db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'keys_version'"),
    keysVersion: db.prepare("SELECT value FROM counters WHERE name = 'keys_version'"),
    deleteChunk: db.prepare(
      'DELETE FROM requests WHERE seq IN (SELECT seq FROM requests WHERE started_at_ms < ? LIMIT ?)',
    ),
    spendSince: db.prepare(
      'SELECT COALESCE(SUM(usd), 0) AS usd FROM spend_daily WHERE scope = ? AND day >= ?',
    ),
  };
}

/** Creates the migrations table and applies each missing migration in its own transaction. */
function migrate(db: DatabaseSync): void {
  db.exec(MIGRATIONS_TABLE.sqlite);
  const applied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)');
  for (const migration of MIGRATIONS) {
    // Checked again inside the lock: another process may have applied it since we last looked.
    db.exec('BEGIN IMMEDIATE');
    try {
      if (!applied.get(migration.version)) {
        for (const statement of migration.sqlite) db.exec(statement);
        record.run(migration.version, migration.name, Date.now());
      }
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

function isConstraintError(err: unknown): err is Error & { errcode: number } {
  return (
    err instanceof Error &&
    'errcode' in err &&
    typeof err.errcode === 'number' &&
    (err.errcode & 0xff) === SQLITE_CONSTRAINT
  );
}

function unavailable(path: string, err: unknown): Error {
  if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`sqlite store at ${path}: ${reason}`, { cause: err });
}

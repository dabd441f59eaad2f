/**
 * `storage: postgres://...` for several replicas sharing one database, with `pg` and a small pool.
 * A batch of records is one `INSERT ... SELECT * FROM unnest(...)` (one array parameter per
 * column, so the statement text is the same whatever the batch size) plus one upsert of the
 * spend roll-up, in one transaction.
 *
 * Errors never carry the URL: they name the store as `host:port/database`.
 */
import pg from 'pg';
import type { RequestRecord } from '../telemetry/record.ts';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  KEY_COLUMNS,
  keyConflictMessage,
  keyValues,
  patchAssignments,
  pgUnnestParameters,
  REQUEST_COLUMNS,
  requestValues,
  rowToKey,
  rowToRequest,
  type SqlRow,
  type SqlValue,
} from './rows.ts';
import { rollUp, scopeText, utcDay } from './spend.ts';
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

export interface PostgresOptions {
  /** Most connections open at once (default 4): writes are batched, so few are needed. */
  poolSize?: number;
  /** Give up on a connection attempt after this long (default 5000 ms). */
  connectTimeoutMs?: number;
}

/** Serialises migrations across replicas starting at the same time (any constant will do). */
const MIGRATION_LOCK_ID = 7_310_424_019;
const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';

/** Epoch milliseconds and counts are BIGINT: read them as numbers (all fit in 2^53). */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  /** `host:port/database`, for messages. */
  readonly target: string;
  /** Cuts the URL's password out of a driver message (a closure, so inspecting the store never shows it). */
  private readonly redact: (text: string) => string;

  private constructor(pool: pg.Pool, target: string, redact: (text: string) => string) {
    this.pool = pool;
    this.target = target;
    this.redact = redact;
  }

  /** Connects and migrates; a database that cannot be reached is a StoreUnavailableError. */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const target = describePostgresUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      types,
    });
    // An idle connection that the server drops emits 'error' on the pool; unhandled, it would end
    // the process. The next query reports the outage, where the caller can handle it.
    pool.on('error', () => {});
    const password = passwordOf(url);
    const redact = (text: string) => (password ? text.replaceAll(password, '***') : text);
    const store = new PostgresStore(pool, target, redact);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => {});
      throw store.unavailable(err);
    }
    return store;
  }

  async insertKey(key: KeyRecord): Promise<void> {
    const columns = KEY_COLUMNS.map((c) => c.name);
    await this.transaction(async (client) => {
      await client.query(
        `INSERT INTO keys (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        keyValues(key),
      );
      await client.query("UPDATE counters SET value = value + 1 WHERE name = 'keys_version'");
    }, key);
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    const [row] = await this.query('SELECT * FROM keys WHERE id = $1', [id]);
    return row && rowToKey(row);
  }

  async findKeyByHash(keyHash: string): Promise<KeyRecord | undefined> {
    const [row] = await this.query('SELECT * FROM keys WHERE key_hash = $1', [keyHash]);
    return row && rowToKey(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.query('SELECT * FROM keys ORDER BY created_at_ms, id')).map(rowToKey);
  }

  async updateKey(id: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    const assignments = patchAssignments(patch);
    const set =
      assignments.length > 0 ? assignments.map(([c], i) => `${c} = $${i + 2}`).join(', ') : 'id = id';
    const row = await this.transaction(
      async (client) => {
        const result = await client.query<SqlRow>(`UPDATE keys SET ${set} WHERE id = $1 RETURNING *`, [
          id,
          ...assignments.map(([, v]) => v),
        ]);
        const updated = result.rows[0];
        if (updated) await client.query("UPDATE counters SET value = value + 1 WHERE name = 'keys_version'");
        return updated;
      },
      { id, ...(patch.name === undefined ? {} : { name: patch.name }) },
    );
    return row && rowToKey(row);
  }

  async keysVersion(): Promise<number> {
    const [row] = await this.query("SELECT value FROM counters WHERE name = 'keys_version'");
    return Number(row?.value ?? 0);
  }

  async insertRequests(records: readonly RequestRecord[]): Promise<void> {
    if (records.length === 0) return;
    const columns: SqlValue[][] = REQUEST_COLUMNS.map(() => []);
    for (const record of records) {
      requestValues(record).forEach((value, i) => {
        columns[i]?.push(value);
      });
    }
    const spend = rollUp(records);
    await this.transaction(async (client) => {
      await client.query(
        `INSERT INTO requests (${REQUEST_COLUMNS.map((c) => c.name).join(', ')})
         SELECT * FROM unnest(${pgUnnestParameters()})`,
        columns,
      );
      await client.query(
        `INSERT INTO spend_daily (scope, day, usd, requests)
         SELECT * FROM unnest($1::text[], $2::date[], $3::float8[], $4::int8[])
         ON CONFLICT (scope, day) DO UPDATE
           SET usd = spend_daily.usd + excluded.usd, requests = spend_daily.requests + excluded.requests`,
        [
          spend.map((s) => s.scope),
          spend.map((s) => s.day),
          spend.map((s) => s.usd),
          spend.map((s) => s.requests),
        ],
      );
    });
  }

  async listRequests(query: RequestQuery): Promise<RequestRecord[]> {
    const filters: string[] = [];
    const values: SqlValue[] = [];
    if (query.keyName !== undefined) {
      values.push(query.keyName);
      filters.push(`key_name = $${values.length}`);
    }
    if (query.model !== undefined) {
      values.push(query.model);
      filters.push(`model = $${values.length}`);
    }
    values.push(Math.max(0, Math.floor(query.limit)));
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : '';
    const rows = await this.query(
      `SELECT * FROM requests ${where} ORDER BY started_at_ms DESC, seq DESC LIMIT $${values.length}`,
      values,
    );
    return rows.map(rowToRequest);
  }

  async usage(groupBy: UsageGroupBy, fromMs: number, toMs: number): Promise<UsageRow[]> {
    const rows = await this.query(
      usageSql(USAGE_GROUP_COLUMN[groupBy], (n) => `$${n}`),
      [fromMs, toMs],
    );
    return sortUsageRows(rows.map(usageRow));
  }

  async deleteRequestsBefore(ms: number): Promise<number> {
    try {
      const result = await this.pool.query('DELETE FROM requests WHERE started_at_ms < $1', [ms]);
      return result.rowCount ?? 0;
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async spendSince(scope: SpendScope, fromMs: number): Promise<number> {
    const [row] = await this.query(
      'SELECT COALESCE(SUM(usd), 0) AS usd FROM spend_daily WHERE scope = $1 AND day >= $2::date',
      [scopeText(scope), utcDay(fromMs)],
    );
    return Number(row?.usd ?? 0);
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private async migrate(): Promise<void> {
    for (const migration of MIGRATIONS) {
      await this.transaction(async (client) => {
        // Replicas starting together queue here; the table and the version are checked inside the lock.
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
        await client.query(MIGRATIONS_TABLE.postgres);
        const applied = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
          migration.version,
        ]);
        if (applied.rowCount) return;
        for (const statement of migration.postgres) await client.query(statement);
        await client.query(
          'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)',
          [migration.version, migration.name, Date.now()],
        );
      });
    }
  }

  private async query(text: string, values: readonly SqlValue[] = []): Promise<SqlRow[]> {
    try {
      return (await this.pool.query<SqlRow>(text, [...values])).rows;
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  /** BEGIN ... COMMIT on one pooled connection; a unique-rule failure on `key` becomes a StoreConflictError. */
  private async transaction<T>(
    run: (client: pg.PoolClient) => Promise<T>,
    key?: { id?: string; name?: string },
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.unavailable(err);
    }
    let broken = false;
    // A checked-out client has no pool listener: a connection that dies under it emits 'error'
    // (besides failing the query in flight), and an 'error' nobody listens to ends the process.
    const onConnectionError = () => {
      broken = true;
    };
    client.on('error', onConnectionError);
    try {
      await client.query('BEGIN');
      const result = await run(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      if (key && isUniqueViolation(err)) {
        throw new StoreConflictError(keyConflictMessage(err.constraint ?? err.message, key));
      }
      throw this.unavailable(err);
    } finally {
      client.off('error', onConnectionError);
      // A connection whose ROLLBACK failed, or that died, is in an unknown state: destroy it rather than reuse it.
      client.release(broken);
    }
  }

  private unavailable(err: unknown): Error {
    if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) return err;
    const reason = this.redact(reasonOf(err));
    // No `cause`: a driver error may carry connection details; its message (redacted) is enough.
    return new StoreUnavailableError(`postgres store at ${this.target}: ${reason}`);
  }
}

/** `host:port/database` of a PostgreSQL URL: what errors may name (never the user's password). */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)';
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${database}`;
  } catch {
    return '(unparseable URL)';
  }
}

function isUniqueViolation(err: unknown): err is Error & { code: string; constraint?: string } {
  return err instanceof Error && 'code' in err && err.code === UNIQUE_VIOLATION;
}

/** The driver's message (a refused connection to every address of a name is an AggregateError with none). */
function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  }
  if (err instanceof Error) return err.message || ('code' in err ? String(err.code) : err.name);
  return String(err);
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password.length > 0 ? password : undefined;
  } catch {
    return undefined;
  }
}

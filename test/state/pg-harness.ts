/**
 * Throwaway PostgreSQL databases for tests: created with a random name through the `test`
 * database on 127.0.0.1:5432 (user from PGUSER, else `postgres`) and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_USER = process.env.PGUSER ?? 'postgres';
const ADMIN = { host: '127.0.0.1', port: 5432, user: PG_USER, database: 'test' };

async function withClient<T>(database: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...ADMIN, database });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export interface ThrowawayDatabase {
  name: string;
  /** `postgres://user@127.0.0.1:5432/<name>` */
  url: string;
  /** Every table's rows as JSON. */
  dump(): Promise<string>;
  query(sql: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `switchyard_test_${randomBytes(6).toString('hex')}`;
  await withClient('test', (c) => c.query(`CREATE DATABASE ${name}`));
  const query = (sql: string) => withClient(name, async (c) => (await c.query(sql)).rows);
  return {
    name,
    url: `postgres://${encodeURIComponent(PG_USER)}@127.0.0.1:5432/${name}`,
    query,
    async dump() {
      const tables = await query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      const parts = await Promise.all(
        tables.map(async (t) => JSON.stringify(await query(`SELECT * FROM "${String(t.table_name)}"`))),
      );
      return parts.join('\n');
    },
    drop: () =>
      withClient('test', (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

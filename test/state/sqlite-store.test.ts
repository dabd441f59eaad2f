/** The store contract on `storage: sqlite:PATH`, plus what only a file-backed store has. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { openStore } from '../../src/state/open.ts';
import { StoreUnavailableError } from '../../src/state/types.ts';
import { makeKey, makeRecord } from './fixtures.ts';
import { storeContract } from './store-contract.ts';

const root = mkdtempSync(join(tmpdir(), 'switchyard-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let databases = 0;

/** Every table's rows as JSON, plus the raw bytes of the database file and its WAL. */
function dumpSqlite(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    const rows = tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${String(t.name)}"`).all()));
    const files = [path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
    return [...rows, ...files].join('\n');
  } finally {
    db.close();
  }
}

storeContract('sqlite', {}, async () => {
  // A folder that does not exist yet: opening creates it.
  const path = join(root, `db-${++databases}`, 'nested', 'switchyard.db');
  return {
    open: () => openStore(`sqlite:${path}`),
    persistent: true,
    dump: async () => dumpSqlite(path),
    destroy: async () => rmSync(join(root, `db-${databases}`), { recursive: true, force: true }),
  };
});

describe('sqlite store', () => {
  it('runs each migration once, however often the file is opened', async () => {
    const path = join(root, 'migrations.db');
    for (let i = 0; i < 3; i++) await (await openStore(`sqlite:${path}`)).close();
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare('SELECT version FROM schema_migrations').all();
      assert.deepEqual(
        rows.map((r) => r.version),
        [1],
      );
      assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
    } finally {
      db.close();
    }
  });

  it("two stores on one file see each other's writes", async () => {
    const path = join(root, 'shared.db');
    const [a, b] = [await openStore(`sqlite:${path}`), await openStore(`sqlite:${path}`)];
    try {
      const key = makeKey();
      await a.insertKey(key);
      await b.insertRequests([makeRecord({ id: 'from-b' })]);
      assert.deepEqual(await b.getKey(key.id), key);
      assert.equal((await a.listRequests({ limit: 1 }))[0]?.id, 'from-b');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a file that cannot be opened is a StoreUnavailableError naming the store and the path', async () => {
    const blocker = join(root, 'not-a-folder');
    writeFileSync(blocker, 'a file where a folder should be');
    const path = join(blocker, 'switchyard.db');
    await assert.rejects(
      openStore(`sqlite:${path}`),
      (err: unknown) =>
        err instanceof StoreUnavailableError && err.message.startsWith(`sqlite store at ${path}:`),
    );
  });

  it('a file that is not a database is a StoreUnavailableError', async () => {
    const path = join(root, 'garbage.db');
    writeFileSync(path, 'x'.repeat(4096));
    await assert.rejects(openStore(`sqlite:${path}`), StoreUnavailableError);
  });
});

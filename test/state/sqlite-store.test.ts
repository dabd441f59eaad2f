/** The store contract on `storage: sqlite:PATH`, plus what only a file-backed store has. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { openStore } from '../../src/state/open.ts';
import { SqliteLogThread } from '../../src/state/sqlite-log-thread.ts';
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

  describe('the request log is written by a thread of its own', () => {
    const records = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => makeRecord({ id: `${prefix}-${i}`, startedAtMs: Date.now() }));

    it('a large batch does not hold the event loop: timers run while it is written', async () => {
      const store = await openStore(`sqlite:${join(root, 'off-thread.db')}`);
      try {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 1);
        try {
          await store.insertRequests(records(20_000, 'big'));
        } finally {
          clearInterval(timer);
        }
        // Written on this thread, the whole batch ran inside the call: no timer could fire.
        assert.ok(ticks > 0, 'a timer fired while the batch was being written');
        assert.equal((await store.listRequests({ limit: 30_000 })).length, 20_000);
      } finally {
        await store.close();
      }
    });

    it('a batch the database refuses rejects naming the file, writes nothing, and the next batch is written', async () => {
      const path = join(root, 'locked.db');
      const store = await openStore(`sqlite:${path}`, { busyTimeoutMs: 50 });
      const other = new DatabaseSync(path);
      try {
        other.exec('BEGIN IMMEDIATE');
        await assert.rejects(
          store.insertRequests(records(3, 'refused')),
          (err: unknown) =>
            err instanceof StoreUnavailableError &&
            err.message.startsWith(`sqlite store at ${path}:`) &&
            /locked/.test(err.message),
        );
        other.exec('COMMIT');
        await store.insertRequests(records(2, 'later'));
        assert.deepEqual((await store.listRequests({ limit: 10 })).map((r) => r.id).sort(), [
          'later-0',
          'later-1',
        ]);
      } finally {
        if (other.isTransaction) other.exec('ROLLBACK');
        other.close();
        await store.close();
      }
    });

    it('close waits for the batches still being written', async () => {
      const path = join(root, 'close-waits.db');
      const store = await openStore(`sqlite:${path}`);
      const writes = [store.insertRequests(records(500, 'a')), store.insertRequests(records(500, 'b'))];
      await store.close();
      await Promise.all(writes);
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal(db.prepare('SELECT COUNT(*) AS n FROM requests').get()?.n, 1000);
      } finally {
        db.close();
      }
    });

    it('a writing thread that dies fails the batch it held, and the next batch starts a new one', async () => {
      const path = join(root, 'thread-dies.db');
      await (await openStore(`sqlite:${path}`)).close();
      const crashesOnce = new URL('./fixtures/crash-once-worker.ts', import.meta.url);
      const thread = new SqliteLogThread({ path, busyTimeoutMs: 1000 }, crashesOnce);
      try {
        await assert.rejects(thread.write(records(1, 'lost')), /writing thread exited \(code 3\)/);
        await thread.write(records(2, 'kept'));
      } finally {
        await thread.close();
      }
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const ids = db
          .prepare('SELECT id FROM requests ORDER BY id')
          .all()
          .map((r) => r.id);
        assert.deepEqual(ids, ['kept-0', 'kept-1']);
      } finally {
        db.close();
      }
    });

    it('the thread starts whatever node flags the process has, and never keeps the process alive', () => {
      const path = join(root, 'flags.db');
      const open = pathToFileURL(join(import.meta.dirname, '../../src/state/open.ts')).href;
      // --input-type is one of the flags a worker refuses; the script never closes the store.
      const script = `import { openStore } from ${JSON.stringify(open)};
const store = await openStore(${JSON.stringify(`sqlite:${path}`)});
await store.insertRequests([${JSON.stringify(makeRecord({ id: 'from-child' }))}]);
process.stdout.write('written');`;
      const child = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(child.status, 0, child.stderr);
      assert.equal(child.stdout, 'written');
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal(db.prepare('SELECT id FROM requests').get()?.id, 'from-child');
      } finally {
        db.close();
      }
    });
  });
});

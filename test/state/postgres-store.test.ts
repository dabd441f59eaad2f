/** The store contract on `storage: postgres://...`, each test on a throwaway database. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../../src/state/open.ts';
import { StoreUnavailableError } from '../../src/state/types.ts';
import { POSTGRES } from '../helpers/services.ts';
import { makeKey, makeRecord } from './fixtures.ts';
import { createThrowawayDatabase, PG_USER } from './pg-harness.ts';
import { storeContract } from './store-contract.ts';

storeContract('postgres', POSTGRES, async () => {
  const database = await createThrowawayDatabase();
  return {
    open: () => openStore(database.url),
    persistent: true,
    dump: () => database.dump(),
    destroy: () => database.drop(),
  };
});

describe('postgres store', POSTGRES, () => {
  it('replicas opening a new database at once migrate it exactly once', async () => {
    const database = await createThrowawayDatabase();
    try {
      const stores = await Promise.all([1, 2, 3].map(() => openStore(database.url)));
      await Promise.all(stores.map((s) => s.close()));
      assert.deepEqual(await database.query('SELECT version FROM schema_migrations'), [{ version: 1 }]);
    } finally {
      await database.drop();
    }
  });

  it('postgresql:// URLs work too, and two stores share keys and records', async () => {
    const database = await createThrowawayDatabase();
    const a = await openStore(database.url);
    const b = await openStore(database.url.replace(/^postgres:/, 'postgresql:'));
    try {
      assert.equal(b.kind, 'postgres');
      const key = makeKey();
      await a.insertKey(key);
      await b.insertRequests([makeRecord({ id: 'from-b' })]);
      assert.deepEqual(await b.findKeyByHash(key.keyHash), key);
      assert.equal((await a.listRequests({ limit: 1 }))[0]?.id, 'from-b');
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it('a database that goes away later makes operations fail with StoreUnavailableError', async () => {
    const database = await createThrowawayDatabase();
    const store = await openStore(database.url);
    try {
      await database.drop(); // WITH (FORCE) ends the store's connections
      await assert.rejects(
        store.insertRequests([makeRecord()]),
        (err: unknown) =>
          err instanceof StoreUnavailableError &&
          err.message.startsWith(`postgres store at 127.0.0.1:5432/${database.name}:`),
      );
      await assert.rejects(store.keysVersion(), StoreUnavailableError);
    } finally {
      await store.close();
    }
  });

  it('a database that does not exist is a StoreUnavailableError at open', async () => {
    await assert.rejects(
      openStore(`postgres://${PG_USER}@127.0.0.1:5432/switchyard_no_such_database`),
      (err: unknown) => err instanceof StoreUnavailableError && /does not exist/.test(err.message),
    );
  });
});

/** openStore: which store a `storage:` setting opens, and what it says when it cannot. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../../src/state/open.ts';
import { StoreUnavailableError } from '../../src/state/types.ts';

describe('openStore', () => {
  it('opens memory', async () => {
    const store = await openStore('memory');
    assert.equal(store.kind, 'memory');
    await store.close();
  });

  it('refuses an unknown setting without echoing it (it may hold a password)', async () => {
    await assert.rejects(
      openStore('mysql://admin:hunter2@db/switchyard'),
      (err: unknown) => err instanceof StoreUnavailableError && !err.message.includes('hunter2'),
    );
    await assert.rejects(openStore('sqlite:'), StoreUnavailableError);
  });

  it('a PostgreSQL server that is down is a StoreUnavailableError naming host, port and database only', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const url = 'postgres://switchyard:s3cret-pass@127.0.0.1:1/ledger?sslmode=disable';
    await assert.rejects(openStore(url), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.match(err.message, /^postgres store at 127\.0\.0\.1:1\/ledger: /);
      assert.equal(err.message.includes('s3cret-pass'), false);
      assert.equal(err.message.includes('postgres://'), false);
      assert.equal(JSON.stringify(err).includes('s3cret-pass'), false);
      return true;
    });
  });
});

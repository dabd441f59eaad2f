/** The store contract on `storage: memory`, plus its bound on the request log. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { MemoryStore } from '../../src/state/memory.ts';
import { openStore } from '../../src/state/open.ts';
import { makeRecord, T0 } from './fixtures.ts';
import { storeContract } from './store-contract.ts';

storeContract('memory', {}, async () => ({
  open: () => openStore('memory'),
  persistent: false,
  // Nothing is written anywhere: the store's own objects are what would hold a plaintext key.
  dump: async (store) =>
    inspect(store, { depth: Number.POSITIVE_INFINITY, showHidden: true, maxArrayLength: null }),
  destroy: async () => {},
}));

describe('memory store', () => {
  it('keeps at most maxRequests records, forgetting the oldest, while spend keeps counting', async () => {
    const store = new MemoryStore(3);
    await store.insertRequests(
      [1, 2, 3, 4].map((i) => makeRecord({ id: `r${i}`, startedAtMs: T0 + i, keyId: 'k' })),
    );
    await store.insertRequests([makeRecord({ id: 'r5', startedAtMs: T0 + 5, keyId: 'k' })]);
    assert.deepEqual(
      (await store.listRequests({ limit: 10 })).map((r) => r.id),
      ['r5', 'r4', 'r3'],
    );
    assert.equal(Math.round((await store.spendSince({ kind: 'key', id: 'k' }, T0)) * 1000), 5);
  });

  it('hands out copies: changing a returned key or record changes nothing stored', async () => {
    const store = await openStore('memory');
    const record = makeRecord();
    await store.insertRequests([record]);
    record.model = 'changed-after-insert';
    const [listed] = await store.listRequests({ limit: 1 });
    assert.equal(listed?.model, 'gpt-5');
    if (listed) listed.attempts.length = 0;
    assert.equal((await store.listRequests({ limit: 1 }))[0]?.attempts.length, 1);
  });
});

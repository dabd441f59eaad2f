/**
 * The store contract: every implementation (memory, SQLite, PostgreSQL) runs these same tests.
 * Each test gets a fresh, empty database from the target factory and destroys it afterwards.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateVirtualKey } from '../../src/identity/virtual-keys.ts';
import { type Store, StoreConflictError } from '../../src/state/types.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';
import { DAY, HOUR, makeKey, makeRecord, T0 } from './fixtures.ts';

export interface StoreTarget {
  /** A store on this target's database: another instance on each call. */
  open(): Promise<Store>;
  /** Two opens share one database that outlives them (SQLite file, PostgreSQL database). */
  persistent: boolean;
  /** Everything the store wrote, as text: every table's rows, and for SQLite the raw files too. */
  dump(store: Store): Promise<string>;
  /** Drops the database (the stores opened on it are already closed). */
  destroy(): Promise<void>;
}

type Body = (ctx: { store: Store; target: StoreTarget; open(): Promise<Store> }) => Promise<void>;

export function storeContract(
  label: string,
  options: { skip?: string },
  createTarget: () => Promise<StoreTarget>,
): void {
  /** Runs `body` against a fresh database; closes every store it opened and drops the database. */
  const withStore = (body: Body) => async () => {
    const target = await createTarget();
    const opened: Store[] = [];
    const open = async () => {
      const store = await target.open();
      opened.push(store);
      return store;
    };
    try {
      await body({ store: await open(), target, open });
    } finally {
      for (const store of opened) await store.close();
      await target.destroy();
    }
  };

  describe(`store contract: ${label}`, options, () => {
    it(
      'inserts keys and reads them back by id, by hash and as a list (oldest first)',
      withStore(async ({ store }) => {
        const second = makeKey({
          name: 'research-app',
          team: 'research',
          models: ['gpt-5', 'text-embedding-3-small'],
          rpm: 600,
          tpm: 1_000_000,
          budget: { usd: 500, period: 'month', mode: 'hard' },
          boundary: { regions: ['europe-*'], providers: ['vertex-europe-west4'], tags: ['zdr'] },
          expiresAtMs: T0 + 30 * DAY,
          createdAtMs: T0 + 2,
        });
        const first = makeKey({ createdAtMs: T0 + 1 });
        await store.insertKey(second);
        await store.insertKey(first);
        assert.deepEqual(await store.getKey(second.id), second);
        assert.deepEqual(await store.findKeyByHash(second.keyHash), second);
        assert.deepEqual(await store.findKeyByHash(first.keyHash), first);
        assert.deepEqual(await store.listKeys(), [first, second]);
        assert.equal(await store.getKey('key_unknown'), undefined);
        assert.equal(await store.findKeyByHash('0'.repeat(64)), undefined);
      }),
    );

    it(
      'refuses a second key with a taken name, hash or id, and writes nothing',
      withStore(async ({ store }) => {
        const key = makeKey({ name: 'taken' });
        await store.insertKey(key);
        const version = await store.keysVersion();
        await assert.rejects(
          store.insertKey(makeKey({ name: 'taken' })),
          (err: unknown) => err instanceof StoreConflictError && /named "taken"/.test(err.message),
        );
        await assert.rejects(
          store.insertKey(makeKey({ keyHash: key.keyHash })),
          (err: unknown) => err instanceof StoreConflictError && /same secret/.test(err.message),
        );
        await assert.rejects(
          store.insertKey(makeKey({ id: key.id })),
          (err: unknown) => err instanceof StoreConflictError && err.message.includes(key.id),
        );
        assert.deepEqual(await store.listKeys(), [key]);
        assert.equal(await store.keysVersion(), version);
      }),
    );

    it(
      'updates keys: set fields change, null clears, absent fields stay; unknown id answers undefined',
      withStore(async ({ store }) => {
        const key = makeKey({ team: 'research', models: ['gpt-5'], rpm: 10, budget: null });
        await store.insertKey(key);
        const updated = await store.updateKey(key.id, {
          name: 'renamed',
          models: null,
          tpm: 5000,
          budget: { usd: 20, period: 'day', mode: 'soft' },
          team: undefined,
        });
        const expected = {
          ...key,
          name: 'renamed',
          models: null,
          tpm: 5000,
          budget: { usd: 20, period: 'day' as const, mode: 'soft' as const },
        };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await store.getKey(key.id), expected);
        assert.deepEqual(await store.findKeyByHash(key.keyHash), expected);
        assert.deepEqual(await store.updateKey(key.id, {}), expected);
        assert.equal(await store.updateKey('key_unknown', { rpm: 1 }), undefined);
      }),
    );

    it(
      'revokes a key by setting revokedAtMs, and refuses a rename onto a taken name',
      withStore(async ({ store }) => {
        const a = makeKey({ name: 'a' });
        const b = makeKey({ name: 'b' });
        await store.insertKey(a);
        await store.insertKey(b);
        const revoked = await store.updateKey(a.id, { revokedAtMs: T0 + HOUR });
        assert.equal(revoked?.revokedAtMs, T0 + HOUR);
        assert.equal((await store.findKeyByHash(a.keyHash))?.revokedAtMs, T0 + HOUR);
        await assert.rejects(
          store.updateKey(b.id, { name: 'a' }),
          (err: unknown) => err instanceof StoreConflictError && /named "a"/.test(err.message),
        );
        assert.equal((await store.getKey(b.id))?.name, 'b');
      }),
    );

    it(
      'keysVersion changes on every insert and update, as another instance on the same database sees',
      withStore(async ({ store, target, open }) => {
        const other = target.persistent ? await open() : store;
        const seen = [await other.keysVersion()];
        const key = makeKey();
        await store.insertKey(key);
        seen.push(await other.keysVersion());
        await store.updateKey(key.id, { rpm: 5 });
        seen.push(await other.keysVersion());
        await store.updateKey(key.id, { revokedAtMs: T0 });
        seen.push(await other.keysVersion());
        await store.insertKey(makeKey());
        seen.push(await other.keysVersion());
        assert.equal(new Set(seen).size, seen.length, `versions seen: ${seen.join(', ')}`);
        // An update of no key changes nothing.
        await store.updateKey('key_unknown', { rpm: 1 });
        assert.equal(await other.keysVersion(), seen.at(-1));
        if (target.persistent) assert.equal((await other.getKey(key.id))?.revokedAtMs, T0);
      }),
    );

    it(
      'stores every field of a record and lists newest first, ties in insertion order',
      withStore(async ({ store }) => {
        const full = makeRecord({
          startedAtMs: T0 + 2000,
          stream: true,
          status: 200,
          errorCode: 'upstream_error',
          ttftMs: 120.5,
          latencyMs: 950.25,
          cachedTokens: 40,
          cacheWriteTokens: 8,
          reasoningTokens: 12,
          costUsd: 0.0123,
          boundary: 'regions=europe-*; tags=zdr',
          capacity: 'commitment',
          attempts: [
            {
              provider: 'bedrock-us-east-1',
              deployment: 'm',
              outcome: 'failed',
              status: 429,
              latencyMs: 30,
              kind: 'throttled',
              reason: 'throttled: retry-after 2000ms',
            },
            {
              provider: 'azure-eastus',
              deployment: 'gpt-5-prod',
              outcome: 'ok',
              status: 200,
              latencyMs: 900,
              hedge: true,
            },
          ],
          requestBody: '{"messages":[{"role":"user","content":"héllo, \\"world\\""}]}',
          responseBody: '{"choices":[]}',
        });
        const older = makeRecord({
          startedAtMs: T0,
          keyId: null,
          keyName: null,
          team: null,
          provider: null,
          deployment: null,
        });
        const tieFirst = makeRecord({ startedAtMs: T0 + 1000, id: 'tie-first' });
        const tieSecond = makeRecord({ startedAtMs: T0 + 1000, id: 'tie-second', operation: 'embeddings' });
        await store.insertRequests([older, tieFirst]);
        await store.insertRequests([full, tieSecond]);
        const listed = await store.listRequests({ limit: 10 });
        assert.deepEqual(listed, [full, tieSecond, tieFirst, older]);
        assert.equal('requestBody' in (listed[1] as RequestRecord), false);
        await store.insertRequests([]);
        assert.equal((await store.listRequests({ limit: 10 })).length, 4);
      }),
    );

    it(
      'filters the list by key name and model, and honours the limit',
      withStore(async ({ store }) => {
        const records = [
          makeRecord({ startedAtMs: T0 + 1, keyName: 'a', model: 'gpt-5' }),
          makeRecord({ startedAtMs: T0 + 2, keyName: 'b', model: 'gpt-5' }),
          makeRecord({ startedAtMs: T0 + 3, keyName: 'a', model: 'claude' }),
          makeRecord({ startedAtMs: T0 + 4, keyName: 'a', model: 'gpt-5' }),
        ];
        await store.insertRequests(records);
        const ids = (list: RequestRecord[]) => list.map((r) => r.id);
        const [r0, r1, r2, r3] = records.map((r) => r.id);
        assert.deepEqual(ids(await store.listRequests({ limit: 10, keyName: 'a' })), [r3, r2, r0]);
        assert.deepEqual(ids(await store.listRequests({ limit: 10, model: 'gpt-5' })), [r3, r1, r0]);
        assert.deepEqual(ids(await store.listRequests({ limit: 10, keyName: 'a', model: 'gpt-5' })), [
          r3,
          r0,
        ]);
        assert.deepEqual(ids(await store.listRequests({ limit: 2 })), [r3, r2]);
        assert.deepEqual(ids(await store.listRequests({ limit: 10, keyName: 'nobody' })), []);
      }),
    );

    it(
      'writes a large batch, and values no database would take as they are (NUL, fractional tokens)',
      withStore(async ({ store }) => {
        const batch = Array.from({ length: 1200 }, (_, i) => makeRecord({ startedAtMs: T0 + i }));
        batch.push(
          makeRecord({
            startedAtMs: T0 + 5000,
            id: 'odd',
            model: 'a\u0000b',
            inputTokens: 10.6,
            costUsd: Number.NaN,
          }),
        );
        await store.insertRequests(batch);
        const [odd] = await store.listRequests({ limit: 1 });
        assert.equal(odd?.id, 'odd');
        assert.equal(odd?.model, 'a\uFFFDb');
        assert.equal(odd?.inputTokens, 11);
        assert.equal(odd?.costUsd, null);
        const [usage] = await store.usage('key', T0, T0 + DAY);
        assert.equal(usage?.requests, 1201);
      }),
    );

    it(
      'groups usage by key, team, provider, model and deployment over [from, to)',
      withStore(async ({ store }) => {
        await store.insertRequests([
          makeRecord({ startedAtMs: T0 - 1, keyName: 'a', costUsd: 100 }), // before the range
          makeRecord({
            startedAtMs: T0,
            keyName: 'a',
            team: 't1',
            provider: 'p1',
            model: 'm1',
            deployment: 'd1',
            inputTokens: 10,
            outputTokens: 1,
            costUsd: 0.5,
          }),
          makeRecord({
            startedAtMs: T0 + HOUR,
            keyName: 'a',
            team: 't1',
            provider: 'p2',
            model: 'm2',
            deployment: 'd2',
            inputTokens: 20,
            outputTokens: 2,
            costUsd: 0.25,
          }),
          makeRecord({
            startedAtMs: T0 + 2 * HOUR,
            keyName: 'b',
            team: null,
            provider: 'p1',
            model: 'm1',
            deployment: 'd1',
            inputTokens: 40,
            outputTokens: 4,
            costUsd: 2,
          }),
          makeRecord({ startedAtMs: T0 + DAY, keyName: 'b', costUsd: 100 }), // at `to`: excluded
        ]);
        const to = T0 + DAY;
        assert.deepEqual(await store.usage('key', T0, to), [
          { group: 'b', requests: 1, inputTokens: 40, outputTokens: 4, costUsd: 2, unpricedRequests: 0 },
          { group: 'a', requests: 2, inputTokens: 30, outputTokens: 3, costUsd: 0.75, unpricedRequests: 0 },
        ]);
        assert.deepEqual(await store.usage('team', T0, to), [
          { group: '(none)', requests: 1, inputTokens: 40, outputTokens: 4, costUsd: 2, unpricedRequests: 0 },
          { group: 't1', requests: 2, inputTokens: 30, outputTokens: 3, costUsd: 0.75, unpricedRequests: 0 },
        ]);
        assert.deepEqual(await store.usage('provider', T0, to), [
          { group: 'p1', requests: 2, inputTokens: 50, outputTokens: 5, costUsd: 2.5, unpricedRequests: 0 },
          { group: 'p2', requests: 1, inputTokens: 20, outputTokens: 2, costUsd: 0.25, unpricedRequests: 0 },
        ]);
        assert.deepEqual(
          (await store.usage('model', T0, to)).map((r) => [r.group, r.requests]),
          [
            ['m1', 2],
            ['m2', 1],
          ],
        );
        assert.deepEqual(
          (await store.usage('deployment', T0, to)).map((r) => [r.group, r.requests]),
          [
            ['d1', 2],
            ['d2', 1],
          ],
        );
        assert.deepEqual(await store.usage('key', T0 + 3 * HOUR, to), []);
      }),
    );

    it(
      'counts unpriced requests (cost null) apart and never as $0 spend; ties sort by requests, then name',
      withStore(async ({ store }) => {
        await store.insertRequests([
          makeRecord({ keyName: 'priced', costUsd: 0.2 }),
          makeRecord({ keyName: 'mixed', costUsd: 0.2 }),
          makeRecord({ keyName: 'mixed', costUsd: null, inputTokens: 5, outputTokens: 5 }),
          makeRecord({ keyName: 'unpriced-b', costUsd: null }),
          makeRecord({ keyName: 'unpriced-a', costUsd: null }),
        ]);
        const rows = await store.usage('key', T0, T0 + 1);
        assert.deepEqual(
          rows.map((r) => [r.group, r.requests, r.costUsd, r.unpricedRequests]),
          [
            ['mixed', 2, 0.2, 1],
            ['priced', 1, 0.2, 0],
            ['unpriced-a', 1, 0, 1],
            ['unpriced-b', 1, 0, 1],
          ],
        );
        assert.equal(rows[0]?.inputTokens, 105);
      }),
    );

    it(
      'deleteRequestsBefore deletes older records only and answers how many',
      withStore(async ({ store }) => {
        await store.insertRequests([
          makeRecord({ startedAtMs: T0 - 2 * DAY }),
          makeRecord({ startedAtMs: T0 - 1 }),
          makeRecord({ startedAtMs: T0, id: 'kept-1' }),
          makeRecord({ startedAtMs: T0 + DAY, id: 'kept-2' }),
        ]);
        assert.equal(await store.deleteRequestsBefore(T0), 2);
        assert.deepEqual(
          (await store.listRequests({ limit: 10 })).map((r) => r.id),
          ['kept-2', 'kept-1'],
        );
        assert.equal(await store.deleteRequestsBefore(T0), 0);
      }),
    );

    it(
      'spendSince sums whole UTC days per key, team and provider, and survives retention',
      withStore(async ({ store }) => {
        const day0 = Date.UTC(2026, 2, 10);
        await store.insertRequests([
          makeRecord({ startedAtMs: day0 - 1, keyId: 'k1', team: 't', provider: 'p', costUsd: 1 }), // Mar 9
          makeRecord({ startedAtMs: day0, keyId: 'k1', team: 't', provider: 'p', costUsd: 2 }),
          makeRecord({ startedAtMs: day0 + 23 * HOUR, keyId: 'k2', team: 't', provider: 'p', costUsd: 4 }),
          makeRecord({ startedAtMs: day0 + DAY, keyId: 'k1', team: null, provider: 'q', costUsd: 8 }),
          makeRecord({ startedAtMs: day0 + DAY, keyId: 'k1', team: null, provider: 'q', costUsd: null }),
        ]);
        await store.insertRequests([
          makeRecord({ startedAtMs: day0 + DAY + 1, keyId: 'k1', provider: 'q', costUsd: 16 }),
        ]);
        const noon = day0 + 12 * HOUR;
        const k1 = { kind: 'key', id: 'k1' } as const;
        assert.equal(await store.spendSince(k1, day0 - DAY), 27);
        // From any time of a day counts that whole day.
        assert.equal(await store.spendSince(k1, noon), 26);
        assert.equal(await store.spendSince(k1, day0 + 2 * DAY), 0);
        assert.equal(await store.spendSince({ kind: 'key', id: 'k2' }, noon), 4);
        assert.equal(await store.spendSince({ kind: 'team', name: 'research' }, noon), 16);
        assert.equal(await store.spendSince({ kind: 'team', name: 't' }, day0 - DAY), 7);
        assert.equal(await store.spendSince({ kind: 'provider', id: 'q' }, noon), 24);
        assert.equal(await store.spendSince({ kind: 'provider', id: 'nobody' }, 0), 0);
        assert.equal(await store.deleteRequestsBefore(day0 + 3 * DAY), 6);
        assert.equal(await store.spendSince(k1, day0 - DAY), 27);
        assert.equal(await store.spendSince({ kind: 'team', name: 't' }, day0 - DAY), 7);
      }),
    );

    it(
      'never writes a plaintext key: only its hash and prefix',
      withStore(async ({ store, target }) => {
        const generated = generateVirtualKey();
        const key = makeKey({
          keyHash: generated.keyHash,
          keyPrefix: generated.keyPrefix,
          name: 'secret-holder',
        });
        await store.insertKey(key);
        await store.updateKey(key.id, { revokedAtMs: T0 });
        await store.insertRequests([makeRecord({ keyId: key.id, keyName: key.name })]);
        const dump = await target.dump(store);
        // The dump is real: it holds what was written.
        assert.ok(dump.includes(generated.keyHash), 'the dump holds the hash');
        assert.ok(dump.includes('secret-holder'), 'the dump holds the key name');
        assert.equal(dump.includes(generated.plaintext), false, 'plaintext key found in the store');
        assert.equal(
          dump.includes(generated.plaintext.slice(6)),
          false,
          'the random part found in the store',
        );
      }),
    );

    it('keeps keys, revocations, records and spend across a restart', async (t) => {
      const target = await createTarget();
      if (!target.persistent) {
        await target.destroy();
        t.skip('nothing is kept by design');
        return;
      }
      try {
        const key = makeKey({ name: 'durable', budget: { usd: 5, period: 'total', mode: 'hard' } });
        const record = makeRecord({ keyId: key.id, keyName: key.name, costUsd: 1.5 });
        const first = await target.open();
        await first.insertKey(key);
        await first.updateKey(key.id, { revokedAtMs: T0 + 1 });
        await first.insertRequests([record]);
        const version = await first.keysVersion();
        await first.close();

        const second = await target.open();
        try {
          assert.deepEqual(await second.findKeyByHash(key.keyHash), { ...key, revokedAtMs: T0 + 1 });
          assert.deepEqual(await second.listRequests({ limit: 5 }), [record]);
          assert.equal(await second.spendSince({ kind: 'key', id: key.id }, 0), 1.5);
          assert.equal(await second.keysVersion(), version);
        } finally {
          await second.close();
        }
      } finally {
        await target.destroy();
      }
    });
  });
}

/** One contract for every LimitStore: the in-process one and Redis. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BudgetCheck, LimitStore } from '../../src/limits/types.ts';

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

function budget(over: Partial<BudgetCheck> = {}): BudgetCheck {
  return {
    scope: 'key:k1',
    period: '2027-01',
    limitNano: 1000,
    amountNano: 100,
    expiresAtMs: T0 + 60_000,
    ttlMs: HOUR,
    ...over,
  };
}

export function limitStoreContract(
  label: string,
  options: { skip?: string },
  open: () => Promise<LimitStore>,
): void {
  const withStore = (body: (store: LimitStore) => Promise<void>) => async () => {
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  };

  describe(`limit store contract: ${label}`, options, () => {
    it(
      'a window admits exactly its limit per minute: the 6th request of 5 is refused, with when it frees',
      withStore(async (store) => {
        const window = { name: 'rate:key:a:requests', limit: 5, amount: 1 };
        for (let i = 0; i < 5; i++) {
          const r = await store.admit({ id: `r${i}`, nowMs: T0 + i * 1000, windows: [window], budgets: [] });
          assert.ok(r.ok, `request ${i + 1}`);
          if (r.ok) assert.equal(r.windows[0]?.used, i + 1);
        }
        const sixth = await store.admit({ id: 'r6', nowMs: T0 + 10_000, windows: [window], budgets: [] });
        assert.equal(sixth.ok, false);
        if (!sixth.ok && sixth.refused === 'window') {
          assert.equal(sixth.index, 0);
          assert.equal(sixth.windows[0]?.used, 5);
          assert.equal(sixth.windows[0]?.freesAtMs, (Math.floor(T0 / 1000) + 60) * 1000);
        } else assert.fail(`refused for ${JSON.stringify(sixth)}`);
        // A minute after the first, one slot is free again.
        const later = await store.admit({ id: 'r7', nowMs: T0 + 60_000, windows: [window], budgets: [] });
        assert.ok(later.ok);
      }),
    );

    it(
      'admission is all or nothing: a refused window charges none of the others',
      withStore(async (store) => {
        const key = { name: 'rate:key:b:requests', limit: 10, amount: 1 };
        const team = { name: 'rate:team:t:requests', limit: 1, amount: 1 };
        assert.ok((await store.admit({ id: 'a', nowMs: T0, windows: [key, team], budgets: [] })).ok);
        const refused = await store.admit({ id: 'b', nowMs: T0, windows: [key, team], budgets: [] });
        assert.equal(refused.ok, false);
        const [keyState] = await store.windows([key.name], T0);
        assert.equal(keyState?.used, 1, 'the key window was not charged for the refused request');
      }),
    );

    it(
      'token windows settle from the estimate to the real usage, in the second they were charged',
      withStore(async (store) => {
        const tokens = { name: 'rate:key:c:tokens', limit: 1000, amount: 600 };
        assert.ok((await store.admit({ id: 'a', nowMs: T0, windows: [tokens], budgets: [] })).ok);
        assert.equal(
          (await store.admit({ id: 'b', nowMs: T0 + 500, windows: [tokens], budgets: [] })).ok,
          false,
        );
        await store.settle({
          id: 'a',
          nowMs: T0 + 2000,
          windows: [{ name: tokens.name, atMs: T0, delta: -500 }],
          budgets: [],
        });
        assert.equal((await store.windows([tokens.name], T0 + 2000))[0]?.used, 100);
        assert.ok((await store.admit({ id: 'c', nowMs: T0 + 2000, windows: [tokens], budgets: [] })).ok);
      }),
    );

    it(
      'a budget must be seeded once per period; seeding is idempotent (the first seed wins)',
      withStore(async (store) => {
        const b = budget();
        const first = await store.admit({ id: 'a', nowMs: T0, windows: [], budgets: [b] });
        assert.deepEqual(first, { ok: false, refused: 'seed', index: 0 });
        await store.seed(b.scope, b.period, 300, HOUR);
        await store.seed(b.scope, b.period, 999, HOUR);
        assert.deepEqual(await store.budgets([{ scope: b.scope, period: b.period }]), [
          { spentNano: 300, reservedNano: 0 },
        ]);
        assert.deepEqual(await store.budgets([{ scope: b.scope, period: '2027-02' }]), [undefined]);
      }),
    );

    it(
      'a hard budget reserves each request up front: concurrent requests cannot overrun it',
      withStore(async (store) => {
        const b = budget({ limitNano: 1000, amountNano: 300 });
        await store.seed(b.scope, b.period, 200, HOUR);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.admit({ id: `r${i}`, nowMs: T0, windows: [], budgets: [b] }),
          ),
        );
        assert.equal(
          results.filter((r) => r.ok).length,
          2,
          '200 spent + 2 x 300 reserved; a third would be 1100',
        );
        const refused = results.find((r) => !r.ok);
        assert.deepEqual(refused, {
          ok: false,
          refused: 'budget',
          index: 0,
          spentNano: 200,
          reservedNano: 600,
        });
      }),
    );

    it(
      'settling releases the reservation and adds the real cost; a release adds nothing',
      withStore(async (store) => {
        const b = budget({ limitNano: 1000, amountNano: 400 });
        await store.seed(b.scope, b.period, 0, HOUR);
        assert.ok((await store.admit({ id: 'a', nowMs: T0, windows: [], budgets: [b] })).ok);
        assert.ok((await store.admit({ id: 'b', nowMs: T0, windows: [], budgets: [b] })).ok);
        const spent = await store.settle({
          id: 'a',
          nowMs: T0,
          windows: [],
          budgets: [{ scope: b.scope, period: b.period, actualNano: 150, ttlMs: HOUR }],
        });
        assert.deepEqual(spent, { ok: true, spentNano: [150] });
        await store.settle({
          id: 'b',
          nowMs: T0,
          windows: [],
          budgets: [{ scope: b.scope, period: b.period, actualNano: 0, ttlMs: HOUR }],
        });
        assert.deepEqual(await store.budgets([b]), [{ spentNano: 150, reservedNano: 0 }]);
        // Settling twice never counts the reservation twice.
        await store.settle({
          id: 'a',
          nowMs: T0,
          windows: [],
          budgets: [{ scope: b.scope, period: b.period, actualNano: 0, ttlMs: HOUR }],
        });
        assert.deepEqual(await store.budgets([b]), [{ spentNano: 150, reservedNano: 0 }]);
      }),
    );

    it(
      'a reservation nobody settles (its replica died) expires and frees the budget',
      withStore(async (store) => {
        const b = budget({ limitNano: 500, amountNano: 500, expiresAtMs: T0 + 30_000 });
        await store.seed(b.scope, b.period, 0, HOUR);
        assert.ok((await store.admit({ id: 'lost', nowMs: T0, windows: [], budgets: [b] })).ok);
        assert.equal((await store.admit({ id: 'x', nowMs: T0 + 1000, windows: [], budgets: [b] })).ok, false);
        const after = await store.admit({
          id: 'y',
          nowMs: T0 + 30_001,
          windows: [],
          budgets: [{ ...b, expiresAtMs: T0 + 90_000 }],
        });
        assert.ok(after.ok);
      }),
    );

    it(
      'reservations expire each at its own time, whatever order they were made in',
      withStore(async (store) => {
        const b = (expiresInMs: number) =>
          budget({ limitNano: 300, amountNano: 100, expiresAtMs: T0 + expiresInMs });
        await store.seed('key:k1', '2027-01', 0, HOUR);
        const admit = (id: string, nowMs: number, expiresInMs = 200_000) =>
          store.admit({ id, nowMs, windows: [], budgets: [b(expiresInMs)] });
        assert.ok((await admit('a', T0, 90_000)).ok);
        assert.ok((await admit('b', T0, 30_000)).ok);
        assert.ok((await admit('c', T0, 60_000)).ok);
        assert.equal((await admit('x', T0 + 1000)).ok, false, '300 of 300 reserved');
        await store.settle({
          id: 'a',
          nowMs: T0 + 2000,
          windows: [],
          budgets: [{ scope: 'key:k1', period: '2027-01', actualNano: 0, ttlMs: HOUR }],
        });
        assert.ok((await admit('d', T0 + 2001)).ok, 'a settled: 200 reserved (b, c) + d');
        assert.equal((await admit('y', T0 + 29_999)).ok, false, 'b not expired yet');
        assert.ok((await admit('e', T0 + 30_001)).ok, 'b expired: c, d + e');
        assert.equal((await admit('z', T0 + 59_999)).ok, false, 'c not expired yet');
        assert.ok((await admit('f', T0 + 60_001)).ok, 'c expired: d, e + f');
        assert.deepEqual(await admit('g', T0 + 60_002), {
          ok: false,
          refused: 'budget',
          index: 0,
          spentNano: 0,
          reservedNano: 300,
        });
      }),
    );

    it(
      'key and team budgets are reserved together or not at all',
      withStore(async (store) => {
        const key = budget({ scope: 'key:k9', limitNano: 10_000, amountNano: 100 });
        const team = budget({ scope: 'team:t9', limitNano: 150, amountNano: 100 });
        await store.seed(key.scope, key.period, 0, HOUR);
        await store.seed(team.scope, team.period, 0, HOUR);
        assert.ok((await store.admit({ id: 'a', nowMs: T0, windows: [], budgets: [key, team] })).ok);
        const second = await store.admit({ id: 'b', nowMs: T0, windows: [], budgets: [key, team] });
        assert.equal(second.ok, false);
        if (!second.ok && second.refused === 'budget') assert.equal(second.index, 1);
        assert.deepEqual(
          await store.budgets([key]),
          [{ spentNano: 0, reservedNano: 100 }],
          'nothing reserved on the key',
        );
      }),
    );

    it(
      'a soft budget (no limit) and a plain spend counter only add up',
      withStore(async (store) => {
        const soft = budget({ scope: 'provider:p', limitNano: undefined, amountNano: 0 });
        await store.seed(soft.scope, soft.period, 5, HOUR);
        for (let i = 0; i < 3; i++) {
          assert.ok((await store.admit({ id: `s${i}`, nowMs: T0, windows: [], budgets: [soft] })).ok);
          await store.settle({
            id: `s${i}`,
            nowMs: T0,
            windows: [],
            budgets: [{ scope: soft.scope, period: soft.period, actualNano: 1000, ttlMs: HOUR }],
          });
        }
        assert.deepEqual(await store.budgets([soft]), [{ spentNano: 3005, reservedNano: 0 }]);
      }),
    );

    it(
      'settling a budget whose counter is gone (Redis restarted) asks for a seed instead of starting from 0',
      withStore(async (store) => {
        const result = await store.settle({
          id: 'a',
          nowMs: T0,
          windows: [],
          budgets: [{ scope: 'key:gone', period: '2027-01', actualNano: 10, ttlMs: HOUR }],
        });
        assert.deepEqual(result, { ok: false, seedIndex: 0 });
      }),
    );

    it(
      'charge adds to windows without a check (deployment usage); windows reads them',
      withStore(async (store) => {
        await store.charge(
          [
            { name: 'deployment:p/m:requests', amount: 1 },
            { name: 'deployment:p/m:tokens', amount: 250 },
          ],
          T0,
        );
        await store.charge([{ name: 'deployment:p/m:requests', amount: 1 }], T0 + 5000);
        const [requests, tokens, none] = await store.windows(
          ['deployment:p/m:requests', 'deployment:p/m:tokens', 'nothing'],
          T0 + 5000,
        );
        assert.deepEqual(requests, { used: 2, freesAtMs: (Math.floor(T0 / 1000) + 60) * 1000 });
        assert.equal(tokens?.used, 250);
        assert.deepEqual(none, { used: 0, freesAtMs: T0 + 5000 });
      }),
    );

    it(
      'once() is true the first time only, until it expires',
      withStore(async (store) => {
        assert.equal(await store.once('alert:key:k1:2027-01:50', 60_000), true);
        assert.equal(await store.once('alert:key:k1:2027-01:50', 60_000), false);
        assert.equal(await store.once('alert:key:k1:2027-01:80', 60_000), true);
      }),
    );
  });
}

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisLimitStore } from '../../src/limits/redis.ts';
import { REDIS } from '../helpers/services.ts';
import { limitStoreContract } from './contract.ts';

/** Each test on its own key prefix of the shared Redis, so tests never see each other's counters. */
limitStoreContract('redis', REDIS, async () => {
  const store = new RedisLimitStore('redis://127.0.0.1:6379', {
    prefix: `sytest:${randomBytes(6).toString('hex')}:`,
  });
  await store.connect();
  return store;
});

/** Every EVAL/EVALSHA the server receives whose keys carry `prefix` (Redis MONITOR). */
async function watchScriptCalls(prefix: string): Promise<{ count: () => number; stop: () => void }> {
  const client = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
  await client.connect();
  const monitor = await client.monitor();
  let calls = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    if (source !== 'lua' && (name === 'eval' || name === 'evalsha') && args.some((a) => a.startsWith(prefix)))
      calls++;
  });
  return {
    count: () => calls,
    stop: () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

describe(
  'Redis limit store: admissions and settlements that arrive together share one script call',
  REDIS,
  () => {
    it('50 concurrent admissions, then 30 settlements: 4 script calls, not 80 (the first of each kind goes at once, the rest together), and each verdict as if it ran alone', async () => {
      const prefix = `sytest:${randomBytes(6).toString('hex')}:`;
      const store = new RedisLimitStore('redis://127.0.0.1:6379', { prefix });
      await store.connect();
      const watch = await watchScriptCalls(prefix);
      try {
        const T0 = Date.now();
        await store.seed('key:k', '2027-01', 0, 3_600_000);
        const budget = {
          scope: 'key:k',
          period: '2027-01',
          limitNano: 3000,
          amountNano: 100,
          expiresAtMs: T0 + 60_000,
          ttlMs: 3_600_000,
        };
        const window = { name: 'rate:key:k:requests', limit: 40, amount: 1 };
        // Nothing is pending between the seed and these: all 50 are asked in one turn of the event loop.
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.admit({ id: `r${i}`, nowMs: T0, windows: [window], budgets: [budget] }),
          ),
        );
        // In order, as if one by one: the budget (3000 / 100) refuses from the 31st, the window never.
        assert.deepEqual(
          results.map((r) => (r.ok ? 'ok' : r.refused)),
          [...Array(30).fill('ok'), ...Array(20).fill('budget')],
        );
        const used = results.flatMap((r) => (r.ok ? [r.windows[0]?.used] : []));
        assert.deepEqual(
          used,
          Array.from({ length: 30 }, (_, i) => i + 1),
          'each sees the window as charged by those before it',
        );
        const settled = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            store.settle({
              id: `r${i}`,
              nowMs: T0 + 1,
              windows: [],
              budgets: [{ scope: 'key:k', period: '2027-01', actualNano: 10, ttlMs: 3_600_000 }],
            }),
          ),
        );
        assert.deepEqual(
          settled.map((s) => (s.ok ? s.spentNano[0] : -1)),
          Array.from({ length: 30 }, (_, i) => 10 * (i + 1)),
        );
        assert.deepEqual(await store.budgets([{ scope: 'key:k', period: '2027-01' }]), [
          { spentNano: 300, reservedNano: 0 },
        ]);
        await setTimeout(200); // MONITOR's lines arrive on their own connection
        assert.equal(
          watch.count(),
          5,
          'the seed; the first admission, then the other 49; the first settlement, then the other 29',
        );
      } finally {
        watch.stop();
        await store.close();
      }
    });

    it('a batch mixing keys, refusals and a missing counter answers each admission on its own', async () => {
      const store = new RedisLimitStore('redis://127.0.0.1:6379', {
        prefix: `sytest:${randomBytes(6).toString('hex')}:`,
      });
      await store.connect();
      try {
        const T0 = Date.now();
        await store.seed('key:a', 'p', 0, 3_600_000);
        const b = (scope: string) => ({
          scope,
          period: 'p',
          limitNano: 1000,
          amountNano: 600,
          expiresAtMs: T0 + 60_000,
          ttlMs: 3_600_000,
        });
        const w = (name: string, limit: number) => ({ name, limit, amount: 1 });
        const results = await Promise.all([
          store.admit({ id: '1', nowMs: T0, windows: [w('x', 1)], budgets: [b('key:a')] }),
          store.admit({ id: '2', nowMs: T0, windows: [w('y', 5)], budgets: [b('key:unseeded')] }),
          store.admit({ id: '3', nowMs: T0, windows: [w('y', 5), w('x', 1)], budgets: [] }),
          store.admit({ id: '4', nowMs: T0, windows: [w('y', 5)], budgets: [b('key:a')] }),
          store.admit({ id: '5', nowMs: T0, windows: [w('y', 5)], budgets: [] }),
        ]);
        assert.deepEqual(results[0], {
          ok: true,
          windows: [{ used: 1, freesAtMs: (Math.floor(T0 / 1000) + 60) * 1000 }],
        });
        assert.deepEqual(results[1], { ok: false, refused: 'seed', index: 0 });
        assert.equal(results[2]?.ok === false && results[2].refused === 'window' && results[2].index, 1);
        assert.deepEqual(results[3], {
          ok: false,
          refused: 'budget',
          index: 0,
          spentNano: 0,
          reservedNano: 600,
        });
        assert.equal(results[4]?.ok && results[4].windows[0]?.used, 1, 'refused admissions charged nothing');
      } finally {
        await store.close();
      }
    });
  },
);

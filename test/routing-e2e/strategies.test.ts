/**
 * Every routing strategy against real simulated clouds: weighted (smooth 3:1), least-latency
 * (moves to the fast cloud, still explores), lowest-cost (the cheaper, with its reason in the
 * request record), least-busy (concurrent slow requests spread out).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttemptRecord } from '../../src/telemetry/record.ts';
import { send, waitFor } from '../helpers/raw.ts';
import {
  type ChatResult,
  CLIENT_KEY,
  chat,
  cloudProvider,
  deployment,
  deploymentRows,
  explain,
  gatewayYaml,
  inferenceRequests,
  pool,
  recordOf,
  requestRecords,
  servedBy,
  simText,
  startClouds,
  startRig,
} from './harness.ts';

describe('weighted', () => {
  test('3:1 over 200 requests: the heavier serves 75% ± 10 points, never more than 3 in a row', async () => {
    const clouds = await startClouds(['heavy', 'light']);
    const [heavy, light] = clouds as [(typeof clouds)[0], (typeof clouds)[0]];
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    strategy: weighted
    deployments:
${deployment(heavy, 'weight: 3')}
${deployment(light, 'weight: 1')}`,
      }),
    );
    try {
      const order: string[] = [];
      for (let i = 0; i < 200; i++) {
        const r = await chat(rig.url, `w${i}`);
        assert.equal(r.status, 200, r.body);
        assert.equal(r.text, simText(r.provider, `w${i}`));
        order.push(r.provider);
      }
      const heavyShare = order.filter((p) => p === 'heavy').length / order.length;
      assert.ok(Math.abs(heavyShare - 0.75) <= 0.1, `heavy served ${(heavyShare * 100).toFixed(1)}%`);
      let run = 0;
      let longest = 0;
      for (const p of order) {
        run = p === 'heavy' ? run + 1 : 0;
        longest = Math.max(longest, run);
      }
      assert.ok(longest <= 3, `a run of ${longest} requests in a row went to the heavy deployment`);
      assert.equal(inferenceRequests(heavy) + inferenceRequests(light), 200, 'one upstream call each');
    } finally {
      await rig.close();
    }
  });
});

describe('priority', () => {
  test('weights split one priority 3:1, smoothly; the next priority only serves when the first is out', async () => {
    const clouds = await startClouds(['a', 'b', 'c']);
    const [a] = clouds as [(typeof clouds)[0]];
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    deployments:
${deployment('a', 'priority: 1, weight: 3')}
${deployment('b', 'priority: 1, weight: 1')}
${deployment('c', 'priority: 2')}`,
      }),
    );
    try {
      const order: string[] = [];
      for (let i = 0; i < 40; i++) order.push((await chat(rig.url, `p${i}`)).provider);
      assert.deepEqual(
        [order.filter((p) => p === 'a').length, order.filter((p) => p === 'b').length],
        [30, 10],
      );
      assert.deepEqual(order.slice(0, 4), ['a', 'a', 'b', 'a']);
      a.sim.addFaults([{ kind: 'status', status: 500 }]);
      // A failure on `a` goes to the rest of priority 1 before priority 2.
      for (let i = 0; i < 4; i++) {
        const r = await chat(rig.url, `after ${i}`);
        assert.notEqual(r.provider, 'c');
      }
    } finally {
      await rig.close();
    }
  });
});

describe('least-latency', () => {
  test('after warm-up traffic moves to the 5 ms cloud away from the 250 ms one; exploration still samples the slow one', async () => {
    const clouds = await startClouds(['slow', 'fast'], { slow: { latencyMs: 250 }, fast: { latencyMs: 5 } });
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        // The slow cloud first in configuration and priority: only measured latency can move traffic.
        models: `  - name: m
    strategy: least-latency
    deployments:
${deployment('slow', 'priority: 1')}
${deployment('fast', 'priority: 1')}`,
      }),
    );
    try {
      // Warm-up: each unmeasured deployment goes first until it has a sample.
      const warm = [await chat(rig.url, 'warm 1'), await chat(rig.url, 'warm 2')];
      assert.deepEqual(
        warm.map((r) => r.provider),
        ['slow', 'fast'],
        'unmeasured deployments are tried first, in configuration order',
      );
      // 200 requests, 8 at a time: P(no exploration at 5%) = 0.95^200 ≈ 3.5e-5.
      const results = await pool(200, 8, (i) => chat(rig.url, `after warm-up ${i}`));
      for (const [i, r] of results.entries()) {
        assert.equal(r.status, 200, r.body);
        assert.equal(r.text, simText(r.provider, `after warm-up ${i}`));
      }
      const counts = servedBy(results);
      const fast = counts.get('fast') ?? 0;
      const slow = counts.get('slow') ?? 0;
      assert.ok(fast >= 170, `fast served ${fast} of 200 (slow ${slow})`);
      assert.ok(slow > 0, 'exploration never tried the slow deployment again');
      const explored = results.find((r) => r.provider === 'slow')!;
      const record = await recordOf(rig.url, explored, 300);
      assert.equal(record.attempts[0]?.reason, 'chosen: least-latency exploration', explain(record.attempts));
      const regular = await recordOf(rig.url, results.find((r) => r.provider === 'fast')!, 300);
      assert.match(regular.attempts[0]?.reason ?? '', /^chosen: least-latency \d+ms vs \d+ms$/);
    } finally {
      await rig.close();
    }
  });
});

/**
 * The attempt the plan put first: records list a hedge race's loser before its winner, so a
 * first choice that won against a stalled hedge comes second, after that hedge.
 */
function firstChoice(record: { attempts: AttemptRecord[] }): AttemptRecord | undefined {
  return record.attempts.find((a) => a.outcome !== 'skipped' && a.hedge !== true);
}

describe('least-latency with hedging', () => {
  test('a deployment that turns slow and keeps losing hedge races stops being chosen first', async () => {
    const clouds = await startClouds(['turns-slow', 'steady'], {
      'turns-slow': { latencyMs: 5 },
      steady: { latencyMs: 60 },
    });
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    strategy: least-latency
    hedge: { afterMs: 150 }
    deployments:
${deployment('turns-slow')}
${deployment('steady')}`,
      }),
    );
    try {
      for (let i = 0; i < 6; i++) await chat(rig.url, `warm ${i}`);
      // The leader by latency; a request that exploration (5%) sent elsewhere says so in its reason.
      let leader: string | undefined;
      for (let i = 0; i < 10 && leader === undefined; i++) {
        const first = firstChoice(await recordOf(rig.url, await chat(rig.url, `measured ${i}`)));
        if (!first?.reason?.includes('exploration')) leader = first?.provider;
      }
      assert.equal(leader, 'turns-slow', 'the fast one leads after warm-up');
      clouds[0]!.sim.setKnobs({ latencyMs: 3000 });
      const results: ChatResult[] = [];
      for (let i = 0; i < 12; i++) results.push(await chat(rig.url, `slowed ${i}`));
      for (const r of results)
        assert.equal(r.provider, 'steady', 'the hedge serves while the first choice stalls');
      const firstChoices: string[] = [];
      for (const r of results.slice(-8)) {
        const first = firstChoice(await recordOf(rig.url, r));
        // Exploration (5%) may try it first now and then, and says so (a hedge race's loser too,
        // in its reason's parentheses): not a choice by latency.
        if (!first?.reason?.includes('exploration')) firstChoices.push(first?.provider ?? '');
      }
      const stillFirst = firstChoices.filter((p) => p === 'turns-slow').length;
      // A stale average would put it first in every one of them.
      assert.ok(
        stillFirst <= 2,
        `the stalled deployment was still chosen first in ${stillFirst} of the last ${firstChoices.length} (exploration picks left out)`,
      );
    } finally {
      await rig.close();
    }
  });
});

describe('lowest-cost', () => {
  test('picks the cheaper deployment (configured second) and says why in GET /admin/requests', async () => {
    const clouds = await startClouds(['pricey', 'cheap']);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    strategy: lowest-cost
    deployments:
${deployment('pricey', 'priority: 1, price: { input: 5, output: 20 }')}
${deployment('cheap', 'priority: 2, price: { input: 1, output: 4 }')}`,
      }),
    );
    try {
      const results: ChatResult[] = [];
      for (let i = 0; i < 5; i++) results.push(await chat(rig.url, `cost ${i}`, { maxTokens: 100 }));
      assert.deepEqual(
        results.map((r) => r.provider),
        Array(5).fill('cheap'),
      );
      const record = await recordOf(rig.url, results[0]!);
      const reason = record.attempts.find((a) => a.outcome === 'ok')?.reason ?? '';
      const match = /^chosen: lowest-cost \$(\d+\.\d{4}) vs \$(\d+\.\d{4})$/.exec(reason);
      assert.ok(match, `reason: ${reason}`);
      const [cheapUsd, priceyUsd] = [Number(match[1]), Number(match[2])];
      // Input and output prices are both 5x: so is the request's price, whatever its token estimate.
      assert.ok(cheapUsd > 0 && priceyUsd / cheapUsd > 4 && priceyUsd / cheapUsd < 6, reason);
      assert.ok(record.costUsd !== null && record.costUsd > 0, 'the served request is priced');
      assert.equal(inferenceRequests(clouds[0]!), 0, 'the pricier deployment was never called');
    } finally {
      await rig.close();
    }
  });
});

describe('lowest-cost, embeddings', () => {
  test('prices of millionths of a dollar still read apart in the reason', async () => {
    const clouds = await startClouds(['large', 'small']);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: emb
    strategy: lowest-cost
    deployments:
${deployment('large', 'price: { input: 0.13, output: 0 }')}
${deployment('small', 'price: { input: 0.02, output: 0 }')}`,
      }),
    );
    try {
      const r = await send(
        rig.url,
        '/v1/embeddings',
        JSON.stringify({ model: 'emb', input: 'a few words' }),
        {
          authorization: `Bearer ${CLIENT_KEY}`,
        },
      );
      assert.ok('status' in r && r.status === 200, JSON.stringify(r));
      assert.equal(r.headers['x-switchyard-provider'], 'small');
      const record = (await requestRecords(rig.url, 1))[0]!;
      assert.match(
        record.attempts[0]?.reason ?? '',
        /^chosen: lowest-cost \$0\.0+[1-9]\d* vs \$0\.0+[1-9]\d*$/,
        'two different prices, neither shown as $0.0000',
      );
    } finally {
      await rig.close();
    }
  });
});

describe('least-busy', () => {
  test('6 concurrent slow requests spread over 2 deployments, 3 and 3', async () => {
    const clouds = await startClouds(['a', 'b'], { a: { latencyMs: 400 }, b: { latencyMs: 400 } });
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    strategy: least-busy
    deployments:
${deployment('a', 'priority: 1')}
${deployment('b', 'priority: 2')}`,
      }),
    );
    try {
      const pending = Promise.all(Array.from({ length: 6 }, (_, i) => chat(rig.url, `busy ${i}`)));
      assert.ok(
        await waitFor(() => inferenceRequests(clouds[0]!) + inferenceRequests(clouds[1]!) === 6),
        'six requests upstream',
      );
      const rows = await deploymentRows(rig.url);
      assert.deepEqual(
        rows.map((row) => [row.provider, row.inFlight]),
        [
          ['a', 3],
          ['b', 3],
        ],
        'GET /admin/deployments shows what is in flight',
      );
      const results = await pending;
      for (const r of results) assert.equal(r.status, 200, r.body);
      const counts = servedBy(results);
      assert.deepEqual([counts.get('a'), counts.get('b')], [3, 3], JSON.stringify([...counts]));
      const record = await recordOf(rig.url, results[5]!);
      assert.match(record.attempts[0]?.reason ?? '', /^chosen: least-busy \d+ in flight$/);
      // Sequential requests, nothing in flight: the tie goes to priority 1 every time.
      const quiet = [await chat(rig.url, 'q1'), await chat(rig.url, 'q2')];
      assert.deepEqual(
        quiet.map((r) => r.provider),
        ['a', 'a'],
      );
    } finally {
      await rig.close();
    }
  });
});

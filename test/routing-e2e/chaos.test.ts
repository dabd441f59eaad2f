/**
 * Chaos: two clouds, the primary failing 30% of requests at random (10% resets, 10% 500s, 10%
 * hangs) and throttling 5% more (429, retry-after 100 ms); 2,000 requests at concurrency 32,
 * streaming and not. At least 99.9% succeed, every answer's text is exactly the serving cloud's
 * (no duplicated or mixed text), and none runs past its deadline. The figures are reported as
 * test diagnostics (`node --test` prints them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send } from '../helpers/raw.ts';
import {
  type ChatResult,
  chat,
  cloudProvider,
  deployment,
  gatewayYaml,
  pool,
  seeded,
  simText,
  startClouds,
  startRig,
} from './harness.ts';

const REQUESTS = 2000;
const CONCURRENCY = 32;
/**
 * Generous for a 2-core machine shared with other test files: a stall of the whole machine must
 * not read as a cloud's failure. Hung primaries are hedged after 400 ms whatever these are.
 */
const TOTAL_MS = 15_000;
/** A request may end this much after its deadline: the client's own socket and scheduling. */
const DEADLINE_MARGIN_MS = 500;
const SEED = Number(process.env.CHAOS_SEED ?? 20_251);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

test('chaos: 2,000 requests at concurrency 32 against a primary failing 30% at random and throttling 5%: ≥ 99.9% succeed, exact text, no deadline overrun', {
  timeout: 120_000,
}, async (t) => {
  const clouds = await startClouds(['primary', 'secondary'], { primary: { random: seeded(SEED) } });
  // Faults are tried in order with their own chance: 0.1, then 0.1 of the remaining 0.9, ...
  clouds[0]!.sim.addFaults([
    { kind: 'reset', times: 'always', probability: 0.1 },
    { kind: 'status', status: 500, times: 'always', probability: 0.1 / 0.9 },
    { kind: 'hang', times: 'always', probability: 0.1 / 0.8 },
    { kind: 'status', status: 429, retryAfterMs: 100, times: 'always', probability: 0.05 / 0.7 },
  ]);
  const rig = await startRig(
    clouds,
    gatewayYaml({
      providers: clouds.map(cloudProvider),
      routing: `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: ${TOTAL_MS} }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 50 }
  circuitBreaker: { failureThreshold: 5, failureRatePercent: 50, minimumRequests: 20, windowMs: 10000, cooldownMs: 1000 }`,
      models: `  - name: m
    hedge: { afterMs: 400 }
    deployments:
${deployment('primary', 'priority: 1')}
${deployment('secondary', 'priority: 2')}`,
    }),
  );
  try {
    const started = Date.now();
    const outcomes = await pool(REQUESTS, CONCURRENCY, async (i) => {
      const content = `chaos ${i}`;
      const stream = i % 2 === 1;
      const at = Date.now();
      const r: ChatResult = await chat(rig.url, content, { stream });
      return { i, content, stream, r, ms: r.endedAt - at };
    });
    const durationMs = Date.now() - started;

    const failures = outcomes.filter(
      (o) =>
        o.r.status !== 200 || o.r.streamError !== undefined || o.r.text !== simText(o.r.provider, o.content),
    );
    const wrongText = outcomes.filter(
      (o) =>
        o.r.status === 200 && o.r.streamError === undefined && o.r.text !== simText(o.r.provider, o.content),
    );
    const overran = outcomes.filter((o) => o.ms > TOTAL_MS + DEADLINE_MARGIN_MS);
    const latencies = outcomes.map((o) => o.ms).sort((a, b) => a - b);
    const attempts = new Map<string, number>();
    for (const o of outcomes) {
      const n = String(o.r.headers['x-switchyard-attempts'] ?? '?');
      attempts.set(n, (attempts.get(n) ?? 0) + 1);
    }
    const served = new Map<string, number>();
    for (const o of outcomes) served.set(o.r.provider, (served.get(o.r.provider) ?? 0) + 1);
    const scraped = await send(rig.url, '/metrics', undefined, {}, 'GET');
    const metricsText = 'body' in scraped ? scraped.body : '';
    const counter = (name: string) =>
      Number(new RegExp(`^${name}\\{model="m"\\} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? 0);

    if (process.env.CHAOS_DEBUG)
      t.diagnostic(
        metricsText
          .split('\n')
          .filter((l) => l.startsWith('switchyard_upstream_attempts_total'))
          .join('\n'),
      );
    const successRate = (100 * (REQUESTS - failures.length)) / REQUESTS;
    t.diagnostic(`seed ${SEED}; duration ${durationMs} ms; success ${successRate.toFixed(2)}%`);
    t.diagnostic(
      `latency ms: p50 ${percentile(latencies, 50)}, p90 ${percentile(latencies, 90)}, p99 ${percentile(latencies, 99)}, max ${latencies.at(-1)}`,
    );
    t.diagnostic(
      `attempts per request: ${[...attempts]
        .sort()
        .map(([n, c]) => `${n}: ${c}`)
        .join(', ')}; served by ${[...served].map(([p, c]) => `${p} ${c}`).join(', ')}`,
    );
    t.diagnostic(
      `retries ${counter('switchyard_retries_total')}, spillovers ${counter('switchyard_spillovers_total')}, hedges started ${counter('switchyard_hedges_started_total')}, won ${counter('switchyard_hedges_won_total')}`,
    );
    for (const f of failures.slice(0, 5)) {
      t.diagnostic(
        `failed #${f.i} (${f.stream ? 'stream' : 'json'}): ${f.r.status} ${f.r.streamError ?? f.r.body.slice(0, 300)}`,
      );
    }

    assert.equal(
      wrongText.length,
      0,
      `answers whose text is not exactly the serving cloud's: ${wrongText.length}`,
    );
    assert.ok(failures.length <= REQUESTS * 0.001, `${failures.length} of ${REQUESTS} requests failed`);
    assert.equal(overran.length, 0, `${overran.length} requests ran past totalMs + ${DEADLINE_MARGIN_MS} ms`);
    // The chaos really happened: the primary failed and the secondary picked up.
    assert.ok((served.get('secondary') ?? 0) > REQUESTS * 0.2, 'the secondary served the failed share');
    // Each 429 keeps the primary out of plans for its retry-after: it serves between throttles.
    assert.ok((served.get('primary') ?? 0) > REQUESTS * 0.05, 'the primary served between its throttles');
    assert.ok(counter('switchyard_retries_total') > 0, 'failures were retried elsewhere');
    assert.ok(counter('switchyard_hedges_won_total') > 0, 'hangs were hedged');
  } finally {
    await rig.close();
  }
});

/**
 * The cost of admission and settlement themselves (issue 10: at most 0.2 ms p50 per request in
 * process, at most 1 ms with Redis on the same machine), measured on the limits layer directly,
 * no HTTP, no upstream:
 *
 *   node bench/limits.ts [--stores memory,redis] [--requests N] [--concurrency C] [--redis URL]
 *                        [--json FILE]
 *
 * It calls `Limits.admit` and then the admission's `settle` exactly as the gateway's request
 * lifecycle does (src/gateway/lifecycle.ts): the principal comes from `Identity` for a key with
 * rpm, tpm and a hard budget, the token estimate from the benchmark's own request through the
 * gateway's parser and `estimateChat`, the maximum cost and the real cost from a deployment
 * `price:`. Limits are high enough never to refuse. Per store: N requests one after another (the
 * cost of one request: the target is checked on this), then 5 s paced at R requests per second
 * (open loop, like the benchmark's fixed-rate runs), then N with C always in flight (closed loop:
 * as fast as the store answers, so its latency is mostly queueing; it shows the store's ceiling).
 * In the last two each request yields to the event loop between admission and settlement, as a
 * real one waits for its upstream. Each call is timed on its own; p50/p99 are exact (every sample
 * kept). `bench/run.ts` runs this as a child process and reports it.
 *
 * On Redis every key lives under a prefix unique to this run, deleted at the end.
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { costOfUsage, maxCostOfRequest } from '../src/accounting/cost.ts';
import { resolvePrice } from '../src/accounting/prices.ts';
import { keySchema } from '../src/config/schema.ts';
import { estimateChat } from '../src/gateway/estimate.ts';
import { Identity } from '../src/identity/keys.ts';
import { parseChatBody } from '../src/ingress/openai/chat.ts';
import { Limits } from '../src/limits/admission.ts';
import { MemoryLimitStore } from '../src/limits/memory.ts';
import { RedisLimitStore } from '../src/limits/redis.ts';
import type { LimitStore } from '../src/limits/types.ts';
import { MemoryStore } from '../src/state/memory.ts';
import { createLogger } from '../src/telemetry/log.ts';
import { GatewayMetrics } from '../src/telemetry/metrics.ts';
import {
  ADMISSION_TARGET_P50_MS,
  type AdmissionResult,
  type AdmissionSeries,
  admissionTable,
  type LimitStoreKind,
} from './lib/admission-result.ts';
import { ANSWER_WORDS, GATEWAY_KEY, LIMITS_KEY, LIMITS_PRICE } from './lib/constants.ts';
import { summarize } from './lib/load.ts';
import { DEFAULT_REDIS_URL, dropRedisKeys } from './lib/redis.ts';
import { chatRequest } from './lib/requests.ts';
import { fixed } from './lib/table.ts';

const USAGE = `Usage: node bench/limits.ts [--stores memory,redis] [--requests N] [--concurrency C]
                           [--rate R] [--redis URL] [--json FILE]

  --stores S       limit stores to measure (default memory,redis)
  --requests N     requests per series (default 20000 in process, a quarter of it on Redis)
  --concurrency C  requests always in flight in the concurrent series (default 50, the benchmark's
                   connections: a closed loop, so its latency is mostly queueing at the store)
  --rate R         requests per second of the paced series (default 1000, the benchmark's fixed rate;
                   5 s)
  --redis URL      Redis for the redis store (default $SWITCHYARD_BENCH_REDIS or redis://127.0.0.1:6379)
  --json FILE      also write the figures to FILE`;

function fail(message: string): never {
  process.stderr.write(`limits bench: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parse() {
  return parseArgs({
    options: {
      stores: { type: 'string', default: 'memory,redis' },
      requests: { type: 'string' },
      concurrency: { type: 'string', default: '50' },
      rate: { type: 'string', default: '1000' },
      redis: { type: 'string', default: DEFAULT_REDIS_URL },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}
let values: ReturnType<typeof parse>;
try {
  values = parse();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got "${value}"`);
  return n;
}
const stores = values.stores.split(',').map((s) => s.trim());
for (const s of stores) if (s !== 'memory' && s !== 'redis') fail(`--stores: unknown store "${s}"`);
const requestsFlag = positiveInt('--requests', values.requests);
const concurrency = positiveInt('--concurrency', values.concurrency)!;
const rate = positiveInt('--rate', values.rate)!;
/** Length of the paced series. */
const PACED_SECONDS = 5;

// The gateway's own inputs: the key as the config schema reads it, the principal as Identity
// builds it, the estimate of the benchmark's request as the lifecycle computes it.
const keyConfig = keySchema.parse({ ...LIMITS_KEY, name: 'bench-limits', key: GATEWAY_KEY });
const principal = await new Identity([keyConfig], []).authenticate(`Bearer ${GATEWAY_KEY}`);
const estimate = estimateChat(parseChatBody(JSON.parse(chatRequest('limits', false).body)));
const price = resolvePrice(LIMITS_PRICE, 'openai', ['m'])!;
const maxCostUsd = maxCostOfRequest(price, estimate.inputTokensMax, estimate.maxOutputTokens);
const usage = {
  promptTokens: estimate.inputTokens,
  completionTokens: ANSWER_WORDS + 1,
  totalTokens: estimate.inputTokens + ANSWER_WORDS + 1,
};
const costUsd = costOfUsage(usage, price);
const TOTAL_MS = 600_000;

function newLimits(store: LimitStore): Limits {
  return new Limits({
    store,
    ledger: new MemoryStore(),
    log: createLogger(() => {}),
    metrics: new GatewayMetrics({
      isConfiguredModel: () => true,
      inFlight: () => 0,
      deployments: () => [],
      requestLog: () => ({ queued: 0, dropped: 0, written: 0, failedFlushes: 0 }),
    }),
    webhook: undefined,
    commitments: new Map(),
  });
}

let sequence = 0;

/** One request's admission and settlement, each timed (ms); `between` stands for the upstream call. */
async function oneRequest(limits: Limits, between?: () => Promise<void>): Promise<[number, number]> {
  const id = `bench-${process.pid}-${sequence++}`;
  const t0 = process.hrtime.bigint();
  const admission = await limits.admit(principal, { id, estimate, maxCostUsd, totalMs: TOTAL_MS });
  const t1 = process.hrtime.bigint();
  if (between) await between();
  const t2 = process.hrtime.bigint();
  await admission.settle({ served: true, usage, costUsd, providerId: 'upstream' });
  await limits.recordProviderUse('upstream', usage, costUsd);
  const t3 = process.hrtime.bigint();
  return [Number(t1 - t0) / 1e6, Number(t3 - t2) / 1e6];
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type Shape =
  | { mode: 'sequential' }
  | { mode: 'concurrent'; inFlight: number }
  | { mode: 'paced'; rate: number };

/** Starts request i at `startAt + i / rate` (ms clock), however many are still in flight. */
async function paced(rate: number, requests: number, run: (i: number) => Promise<void>): Promise<void> {
  const pending: Promise<void>[] = [];
  const startAt = performance.now();
  for (let i = 0; i < requests; ) {
    const due = startAt + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // A late timer starts every request that has come due meanwhile.
    for (const now = performance.now(); i < requests && startAt + (i * 1000) / rate <= now; i++) {
      pending.push(run(i));
    }
  }
  await Promise.all(pending);
}

async function series(
  store: LimitStoreKind,
  limits: Limits,
  requests: number,
  shape: Shape,
): Promise<AdmissionSeries> {
  const admit = new Float64Array(requests);
  const settle = new Float64Array(requests);
  const both = new Float64Array(requests);
  const run = async (i: number) => {
    const [a, s] = await oneRequest(limits, shape.mode === 'sequential' ? undefined : yieldToLoop);
    admit[i] = a;
    settle[i] = s;
    both[i] = a + s;
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  if (shape.mode === 'paced') {
    await paced(shape.rate, requests, run);
  } else {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < requests; i = next++) await run(i);
    };
    await Promise.all(Array.from({ length: shape.mode === 'concurrent' ? shape.inFlight : 1 }, worker));
  }
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    store,
    mode: shape.mode,
    concurrency: shape.mode === 'concurrent' ? shape.inFlight : 1,
    ...(shape.mode === 'paced' ? { rate: shape.rate } : {}),
    requests,
    both: summarize(both),
    admit: summarize(admit),
    settle: summarize(settle),
    perSecond: (requests * 1000) / elapsedMs,
    cpuUsPerRequest: (used.user + used.system) / requests,
  };
}

async function measureStore(kind: LimitStoreKind, store: LimitStore): Promise<AdmissionSeries[]> {
  const limits = newLimits(store);
  const requests = requestsFlag ?? (kind === 'memory' ? 20_000 : 5_000);
  // JIT, the budget counter's seeding and (Redis) script loading happen here, not in the figures.
  await series(kind, limits, Math.min(2_000, requests), { mode: 'sequential' });
  const out = [
    await series(kind, limits, requests, { mode: 'sequential' }),
    await series(kind, limits, rate * PACED_SECONDS, { mode: 'paced', rate }),
    await series(kind, limits, requests, { mode: 'concurrent', inFlight: concurrency }),
  ];
  for (const s of out) {
    process.stderr.write(
      `  ${kind.padEnd(6)} ${s.mode.padEnd(10)} admit+settle p50 ${fixed(s.both.p50, 3)} ms, p99 ${fixed(s.both.p99, 3)} ms\n`,
    );
  }
  return out;
}

const result: AdmissionResult = {
  date: new Date().toISOString(),
  node: process.version,
  skipped: {},
  series: [],
};
process.stderr.write(
  `Admission and settlement (Limits.admit + settle), key with rpm, tpm and a hard budget; ` +
    `reserve $${fixed(maxCostUsd, 4)}, settle $${fixed(costUsd, 6)} per request\n`,
);
if (stores.includes('memory')) result.series.push(...(await measureStore('memory', new MemoryLimitStore())));
if (stores.includes('redis')) {
  const prefix = `sy-bench-${process.pid}-${Date.now()}:`;
  const store = new RedisLimitStore(values.redis, { prefix });
  try {
    await store.connect();
    result.series.push(...(await measureStore('redis', store)));
  } catch (err) {
    result.skipped.redis = err instanceof Error ? err.message : String(err);
    process.stderr.write(`  redis: not measured (${result.skipped.redis})\n`);
  } finally {
    await store.close();
    await dropRedisKeys(values.redis, `${prefix}*`).catch(() => 0);
  }
}

process.stdout.write(`\n${admissionTable(result.series)}\n`);
for (const [store, why] of Object.entries(result.skipped))
  process.stdout.write(`  ${store}: not measured: ${why}\n`);
process.stdout.write(
  `  (ms per request; targets: admit+settle p50 <= ${ADMISSION_TARGET_P50_MS.memory} ms in process, ` +
    `<= ${ADMISSION_TARGET_P50_MS.redis} ms on Redis)\n`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);

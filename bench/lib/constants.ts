/** Names shared by the benchmark's processes. */

/** The simulated upstream's accepted key and model id. */
export const UPSTREAM_API_KEY = 'k';
export const UPSTREAM_MODEL = 'm';

/** What clients of the gateway send (every scenario's gateway accepts the same key). */
export const GATEWAY_KEY = 'sk-bench-key-0001';
export const GATEWAY_MODEL = 'bench-model';

/** Words in every answer, streaming or not (`[sim:words=N]`). */
export const ANSWER_WORDS = 20;

/** Every child prints this line, then the URL, once it accepts requests. */
export const READY_PATTERN = /listening on (http:\/\/\S+)/;

/**
 * The `limits` scenarios' key (and `bench/limits.ts`'s): rate limits and a hard budget far above
 * what a run can use (about 7,000 req/s of ~1,050 estimated tokens, a maximum cost of ~$0.066
 * reserved per request in flight), so they are checked and charged on every request and never
 * refuse. The budget stays below 2^53 nano-dollars (exact in Redis's Lua numbers too).
 */
export const LIMITS_KEY = {
  rpm: 100_000_000,
  tpm: 1_000_000_000_000,
  budget: { usd: 1_000_000, period: 'day', mode: 'hard' },
} as const;

/** USD per million tokens on the `limits` deployments, so the hard budget applies. */
export const LIMITS_PRICE = { input: 1, output: 2 } as const;

/** How often, at most, a gateway's GC probe writes its totals (gc-probe.ts)... */
export const GC_STATS_WRITE_EVERY_MS = 250;
/** ... and how long bench/lib/measure.ts waits after a run's load before reading them. */
export const GC_STATS_SETTLE_MS = GC_STATS_WRITE_EVERY_MS + 100;

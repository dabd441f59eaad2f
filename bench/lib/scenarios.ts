/**
 * The gateway configurations the benchmark measures, each a gateway process of its own, all in
 * front of the same simulated upstream and measured in the same run as the same bare proxy.
 */

export const SCENARIO_NAMES = ['plain', 'routing', 'governed', 'limits', 'limits-redis'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
  name: ScenarioName;
  /** One line for the report: what this gateway has switched on. */
  summary: string;
  /** Issue 11's p99 target applies (plain; routing, which "keeps the benchmark's targets"). */
  p99Target: boolean;
  /** Scrape /metrics every this many seconds during each of its runs (a Prometheus server's part). */
  scrapeEverySec?: number;
  /** Read the request log's counters on /metrics around each run (written, dropped, queued). */
  requestLog: boolean;
  /** Needs Redis. */
  redis: boolean;
  /** Compared with `plain` in the report (its cost over the single-deployment gateway). */
  versusPlain: boolean;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  plain: {
    name: 'plain',
    summary: 'one deployment, memory storage, one key without limits (the reference)',
    p99Target: true,
    requestLog: false,
    redis: false,
    versusPlain: false,
  },
  routing: {
    name: 'routing',
    summary:
      'one model over three deployments (three providers on the upstream), strategy least-latency, /metrics scraped every 2 s',
    p99Target: true,
    scrapeEverySec: 2,
    requestLog: false,
    redis: false,
    versusPlain: true,
  },
  governed: {
    name: 'governed',
    summary:
      'key with a model allowlist and a data boundary (regions, providers, tags), storage sqlite: with the request log',
    p99Target: false,
    requestLog: true,
    redis: false,
    versusPlain: true,
  },
  limits: {
    name: 'limits',
    summary:
      'key with rpm, tpm and a hard daily budget (never reached), priced deployment, limits in process',
    p99Target: false,
    requestLog: false,
    redis: false,
    versusPlain: true,
  },
  'limits-redis': {
    name: 'limits-redis',
    summary: 'the same key and limits, kept in Redis (redis:), a key name unique to this run',
    p99Target: false,
    requestLog: false,
    redis: true,
    versusPlain: true,
  },
};

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

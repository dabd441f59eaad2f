/**
 * The benchmark's command line: flags, usage text, and the settings derived from them.
 * Parsed when this module is first imported: a bad flag exits 2, --help exits 0.
 */

import { parseArgs } from 'node:util';
import { ANSWER_WORDS } from './constants.ts';
import { DEFAULT_REDIS_URL } from './redis.ts';
import { isScenario, SCENARIO_NAMES, type ScenarioName } from './scenarios.ts';

export const USAGE = `Usage: node bench/run.ts [--quick] [--scenarios a,b] [--json FILE] [--connections N] [--rate N]
                         [--rounds N] [--redis URL] [--wait-quiet SEC] [--profile] [--alloc-profile]
                         [--strict] [--gateway-flags=FLAGS]

  --quick          short runs (2 s saturation and fixed rate, 6 s memory per gateway, 1 round):
                   a smoke check
  --scenarios a,b  the gateway configurations to measure (default all: ${SCENARIO_NAMES.join(',')});
                   each is a gateway process of its own, measured in the same rounds as the
                   same upstream and bare proxy (see bench/README.md)
  --redis URL      Redis for limits-redis and the admission benchmark (default
                   $SWITCHYARD_BENCH_REDIS or redis://127.0.0.1:6379)
  --json FILE      also write every number to FILE (always written to .bench/last.json)
  --connections N  autocannon connections for every run (default 50; pipelining is always 1)
  --rate N         the fixed request rate for the latency and memory runs (default 1000)
  --rounds N       rounds of the saturation and the fixed-rate phase, each running direct, proxy
                   and every gateway back to back per mode; the report gives the median across
                   rounds (default 3, --quick 1)
  --wait-quiet SEC before each measured run, wait until processes outside the benchmark use at
                   most 0.2 cores for a second, up to SEC seconds, then run anyway (default 0:
                   no waiting; each check takes a second). For a machine shared with other work
  --profile        run the gateways under node --cpu-prof and list their hot spots (slows them:
                   the numbers of a profiled run are not comparable)
  --alloc-profile  sample every allocation the gateways make (collected garbage included) and
                   list where the bytes come from (slows them too)
  --strict         exit 1 when a target fails (errors always exit 1)
  --gateway-flags="FLAGS"
                   extra node flags for the gateway process, for diagnosis, e.g.
                   --gateway-flags=--trace-gc (not for published numbers)

Each server's output is saved in .bench/logs/NAME.log.

Needs a built gateway: run \`npm run build\` first (\`npm run bench\` does).`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a positive integer, got "${value}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

function parseCli() {
  return parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      redis: { type: 'string' },
      'wait-quiet': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'alloc-profile': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      'gateway-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}

let parsed: ReturnType<typeof parseCli>;
try {
  parsed = parseCli();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

/** The parsed flags, as given. */
export const args = parsed;

function scenarioList(value: string | undefined): ScenarioName[] {
  if (value === undefined) return [...SCENARIO_NAMES];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !isScenario(n));
  if (unknown.length || names.length === 0) {
    process.stderr.write(
      `bench: --scenarios takes a comma-separated list of ${SCENARIO_NAMES.join(', ')}; got "${value}"\n\n${USAGE}\n`,
    );
    process.exit(2);
  }
  // Report order is the canonical order, whatever order was given.
  return SCENARIO_NAMES.filter((n) => names.includes(n));
}
const scenarios = scenarioList(args.scenarios);

export const QUICK = args.quick;
export const SETTINGS = {
  quick: QUICK,
  connections: positiveInt('--connections', args.connections, 50),
  pipelining: 1,
  fixedRate: positiveInt('--rate', args.rate, 1000),
  /** The gateways measured, in the canonical order. */
  scenarios,
  /**
   * The gateway that also runs streaming at the fixed rate (the others run streaming at
   * saturation only, to keep a full run near 14 minutes): plain, the reference.
   */
  streamingFixedRateGateway: scenarios.includes('plain') ? ('plain' as const) : scenarios[0]!,
  redisUrl: args.redis ?? DEFAULT_REDIS_URL,
  /** Longest wait for a quiet machine before each measured run (0: never wait). */
  waitQuietSec: positiveInt('--wait-quiet', args['wait-quiet'], 0),
  /**
   * First contact with each target and mode. A fresh gateway's CPU per request falls ~3x over its
   * first 10-15 s at saturation here (JIT tiers, heap sizing; the upstream's too), so a shorter
   * warm-up measured a gateway still warming in round 1 (bench/README.md, "Warm-up").
   */
  initialWarmupSec: QUICK ? 1 : 15,
  /** Right before each measured saturation run. */
  warmupSec: 1,
  /** Right before each fixed-rate run, at that rate: lets the heap settle after saturation. */
  fixedRateWarmupSec: QUICK ? 1 : 2,
  saturationSec: QUICK ? 2 : 5,
  /** Saturation rounds (direct, proxy, gateway interleaved per mode); ratios are per round, then the median. */
  saturationRounds: positiveInt('--rounds', args.rounds, QUICK ? 1 : 3),
  fixedRateSec: QUICK ? 2 : 8,
  /** Fixed-rate rounds (direct, proxy, gateway interleaved per mode); the report takes medians. */
  fixedRateRounds: positiveInt('--rounds', args.rounds, QUICK ? 1 : 3),
  /** Per gateway, one after another. */
  memorySec: QUICK ? 6 : 40,
  memorySampleSec: QUICK ? 2 : 4,
  /** Words in every answer, streaming or not (`[sim:words=N]`). */
  answerWords: ANSWER_WORDS,
  profile: args.profile,
  allocProfile: args['alloc-profile'],
  gatewayNodeFlags: (args['gateway-flags'] ?? '').split(/\s+/).filter(Boolean),
};

/** Other processes using more than this many cores during a run make its numbers suspect. */
export const NOISE_CORES = 0.2;

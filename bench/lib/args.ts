/**
 * The benchmark's command line: flags, usage text, and the settings derived from them.
 * Parsed when this module is first imported: a bad flag exits 2, --help exits 0.
 */

import { parseArgs } from 'node:util';
import { ANSWER_WORDS } from './constants.ts';

export const USAGE = `Usage: node bench/run.ts [--quick] [--json FILE] [--connections N] [--rate N] [--rounds N] [--profile]
                         [--strict] [--gateway-flags=FLAGS]

  --quick          short runs (3 s saturation and fixed rate, 10 s memory, 1 round):
                   a smoke check
  --json FILE      also write every number to FILE (always written to .bench/last.json)
  --connections N  autocannon connections for every run (default 50; pipelining is always 1)
  --rate N         the fixed request rate for the latency and memory runs (default 1000)
  --rounds N       rounds of the saturation and the fixed-rate phase, each running direct, proxy
                   and gateway back to back per mode; the report gives the median across
                   rounds (default 3, --quick 1)
  --profile        run the gateway under node --cpu-prof and list its hot spots (slows it:
                   the numbers of a profiled run are not comparable)
  --alloc-profile  sample every allocation the gateway makes (collected garbage included) and
                   list where the bytes come from (slows it too)
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

export const QUICK = args.quick;
export const SETTINGS = {
  quick: QUICK,
  connections: positiveInt('--connections', args.connections, 50),
  pipelining: 1,
  fixedRate: positiveInt('--rate', args.rate, 1000),
  /** First contact with each target and mode: JIT and heap sizing settle in ~10 s of load. */
  initialWarmupSec: QUICK ? 2 : 5,
  /** Right before each measured saturation run. */
  warmupSec: 1,
  /** Right before each fixed-rate run, at that rate: lets the heap settle after saturation. */
  fixedRateWarmupSec: QUICK ? 1 : 2,
  saturationSec: QUICK ? 3 : 5,
  /** Saturation rounds (direct, proxy, gateway interleaved per mode); ratios are per round, then the median. */
  saturationRounds: positiveInt('--rounds', args.rounds, QUICK ? 1 : 3),
  fixedRateSec: QUICK ? 3 : 8,
  /** Fixed-rate rounds (direct, proxy, gateway interleaved per mode); the report takes medians. */
  fixedRateRounds: positiveInt('--rounds', args.rounds, QUICK ? 1 : 3),
  memorySec: QUICK ? 10 : 60,
  memorySampleSec: QUICK ? 2 : 5,
  /** Words in every answer, streaming or not (`[sim:words=N]`). */
  answerWords: ANSWER_WORDS,
  profile: args.profile,
  allocProfile: args['alloc-profile'],
  gatewayNodeFlags: (args['gateway-flags'] ?? '').split(/\s+/).filter(Boolean),
};

/** Other processes using more than this many cores during a run make its numbers suspect. */
export const NOISE_CORES = 0.2;

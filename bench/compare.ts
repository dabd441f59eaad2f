/**
 * Compares the gateway's CPU per request and latency between two builds, in one run:
 *
 *   npm run build && node bench/compare.ts --baseline REF [--mode non-streaming|streaming]
 *                                          [--rate N | --saturation] [--rounds N] [--pairs N]
 *
 * REF (a commit, branch or tag) is checked out into a temporary git worktree and built there; the
 * current build is this checkout's dist/. Both gateways run side by side behind one simulated
 * upstream, and are loaded alternately (the order flips every round) in many short runs. Why not
 * two `npm run bench` runs: this machine's speed drifts by 30% between 5 s windows, so two runs
 * minutes apart cannot resolve a 5% change. But two processes of the same build differ too, by
 * more: one pair gave 1.24x in 14 of 14 rounds and the next 0.84x in 12 of 14 (same two builds),
 * and an A/A run of one commit in two worktrees gave 1.29 over 3 pairs. Run an A/A check
 * (`--baseline .`, or the same commit) first and distrust any verdict smaller than its spread;
 * `--pairs N` restarts both gateways N times (bench/README.md).
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gatewayConfig, redisKeyName } from './lib/gateway-config.ts';
import { type LoadResult, runLoad } from './lib/load.ts';
import { killAllSync, readCpuMs, type Service, startService, stopAll, stopService } from './lib/processes.ts';
import { DEFAULT_REDIS_URL, dropRedisKeys, redisProblem } from './lib/redis.ts';
import { ROOT } from './lib/repo.ts';
import { chatRequest, verifyBody } from './lib/requests.ts';
import { median } from './lib/rounds.ts';
import { isScenario, SCENARIO_NAMES, SCENARIOS, type ScenarioName } from './lib/scenarios.ts';
import { fixed, percent, table } from './lib/table.ts';

const USAGE = `Usage: node bench/compare.ts --baseline REF [--mode non-streaming|streaming]
                              [--rate N | --saturation] [--rounds N] [--pairs N] [--seconds N] [--scenario S]
                              [--baseline-flags="FLAGS"] [--current-flags="FLAGS"]

  --baseline REF   the commit to compare with, built in a temporary git worktree; \`.\` runs this
                   checkout's dist/ on both sides (an A/A check of the method, or with the flags
                   below an A/B of node flags)
  --baseline-flags="FLAGS", --current-flags="FLAGS"
                   node flags for one side's gateway, space-separated, e.g.
                   --current-flags=--max-semi-space-size=32
  --scenario S     the gateway configuration both builds run (default plain; one of
                   ${SCENARIO_NAMES.join(', ')}; see bench/README.md). Both gateways share the
                   same upstream (and, for limits-redis, the same Redis key: the limits never refuse)
  --mode M         non-streaming (default) or streaming
  --rate N         requests per second, paced (default 1000)
  --saturation     as fast as the gateway answers, instead of a fixed rate
  --rounds N       paired rounds per pair of processes (default 10); the order of the two builds
                   flips every round
  --pairs N        start both gateways afresh N times (default 1) and report each pair's median
                   ratio: one pair of processes can differ by ±25% from the next (bench/README.md)
  --seconds N      length of each run (default 3)

Needs a built dist/ for the current side: run \`npm run build\` first.`;

function fail(message: string): never {
  process.stderr.write(`compare: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got "${value}"`);
  return n;
}

let values: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      baseline: { type: 'string' },
      mode: { type: 'string', default: 'non-streaming' },
      rate: { type: 'string' },
      saturation: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      pairs: { type: 'string' },
      seconds: { type: 'string' },
      scenario: { type: 'string', default: 'plain' },
      'baseline-flags': { type: 'string', default: '' },
      'current-flags': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}
try {
  values = parse();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.baseline) fail('--baseline REF is required');
if (values.mode !== 'non-streaming' && values.mode !== 'streaming') {
  fail(`--mode must be non-streaming or streaming, got "${values.mode}"`);
}
if (values.saturation && values.rate !== undefined) fail('--rate and --saturation exclude each other');
const stream = values.mode === 'streaming';
const rate = values.saturation ? undefined : positiveInt('--rate', values.rate, 1000);
const rounds = positiveInt('--rounds', values.rounds, 10);
const pairs = positiveInt('--pairs', values.pairs, 1);
const seconds = positiveInt('--seconds', values.seconds, 3);
if (!isScenario(values.scenario))
  fail(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}, got "${values.scenario}"`);
const scenario: ScenarioName = values.scenario;
const redisUrl = DEFAULT_REDIS_URL;
/** Of saturation per side before the first counted round. */
const WARM_UP_SECONDS = 15;
const nodeFlags = (text: string) => text.split(/\s+/).filter((flag) => flag !== '');

type Side = 'baseline' | 'current';

interface Round {
  order: Side[];
  cpuUs: Record<Side, number>;
  load: Record<Side, LoadResult>;
}

function git(args: string[], cwd = ROOT): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Checks REF out into a worktree under `dir` and builds it with this checkout's node_modules. */
function buildBaseline(ref: string, dir: string): { root: string; commit: string } {
  const root = join(dir, 'baseline');
  git(['worktree', 'add', '--detach', root, ref]);
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  return { root, commit: git(['rev-parse', '--short', 'HEAD'], root) };
}

/** One run against one gateway: its CPU per request (from /proc) and the load result. */
async function measure(gateway: Service): Promise<{ cpuUs: number; load: LoadResult }> {
  const before = readCpuMs(gateway.pid);
  const load = await runLoad({
    url: gateway.url,
    requests: [chatRequest(scenario, stream)],
    connections: 50,
    durationSec: seconds,
    ...(rate === undefined ? {} : { rate }),
    verifyBody,
  });
  const after = readCpuMs(gateway.pid);
  const bad = load.non2xx + load.errors + load.mismatches;
  if (bad > 0 || load.ok === 0) {
    throw new Error(`a run against ${gateway.name} had ${bad} failed requests: ${load.samples.join(' | ')}`);
  }
  const cpuUs =
    before === undefined || after === undefined ? Number.NaN : ((after - before) * 1000) / load.ok;
  return { cpuUs, load };
}

function report(rows: Round[], commits: Record<Side, string>): string {
  const ratio = (r: Round) => r.cpuUs.current / r.cpuUs.baseline;
  const perRound = rows.map((r, i) => [
    `${i + 1} (${r.order[0] === 'baseline' ? 'B, C' : 'C, B'})`,
    fixed(r.cpuUs.baseline, 0),
    fixed(r.cpuUs.current, 0),
    fixed(ratio(r), 3),
    fixed(r.load.baseline.latencyMs.p99, 2),
    fixed(r.load.current.latencyMs.p99, 2),
  ]);
  const med = (f: (r: Round) => number) => median(rows.map(f));
  const cheaper = rows.filter((r) => ratio(r) < 1).length;
  const summary = (side: Side) => [
    `${side} (${commits[side]})`,
    fixed(
      med((r) => r.cpuUs[side]),
      0,
    ),
    fixed(
      med((r) => r.load[side].rps),
      0,
    ),
    fixed(
      med((r) => r.load[side].latencyMs.p50),
      2,
    ),
    fixed(
      med((r) => r.load[side].latencyMs.p99),
      2,
    ),
  ];
  return [
    table(['round (order)', 'B CPU µs/req', 'C CPU µs/req', 'C / B', 'B p99 ms', 'C p99 ms'], perRound),
    '',
    table(
      ['median of rounds', 'CPU µs/req', 'req/s', 'p50 ms', 'p99 ms'],
      [summary('baseline'), summary('current')],
    ),
    '',
    `  current / baseline CPU per request: median of paired ratios ${fixed(med(ratio), 3)} ` +
      `(${percent(med(ratio) - 1, 1)}), range ${fixed(Math.min(...rows.map(ratio)), 3)}-` +
      `${fixed(Math.max(...rows.map(ratio)), 3)}; current cheaper in ${cheaper} of ${rows.length} rounds`,
  ].join('\n');
}

async function main(): Promise<void> {
  if (SCENARIOS[scenario].redis) {
    const problem = await redisProblem(redisUrl);
    if (problem) fail(`scenario ${scenario} needs Redis at ${redisUrl} (SWITCHYARD_BENCH_REDIS): ${problem}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-compare-'));
  const runId = `${process.pid}-${Date.now()}`;
  let baselineRoot: string | undefined;
  try {
    const current = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'src', 'bin']) ? ' + uncommitted' : '';
    const inPlace = values.baseline === '.';
    if (!inPlace) process.stdout.write(`Building ${values.baseline} in a temporary worktree…\n`);
    const baseline = inPlace
      ? { root: ROOT, commit: `${current}${dirty}` }
      : buildBaseline(values.baseline!, dir);
    if (!inPlace) baselineRoot = baseline.root;
    const flags: Record<Side, string[]> = {
      baseline: nodeFlags(values['baseline-flags']),
      current: nodeFlags(values['current-flags']),
    };
    const label = (side: Side, commit: string) =>
      flags[side].length > 0 ? `${commit} ${flags[side].join(' ')}` : commit;
    const commits: Record<Side, string> = {
      baseline: label('baseline', baseline.commit),
      current: label('current', `${current}${dirty}`),
    };

    const upstream = await startService('upstream', ['bench/upstream.ts', '--latency-ms', '0'], {
      cwd: ROOT,
    });
    // One config (and data folder: the governed scenario's SQLite file) per side and pair.
    const serve = (side: Side, pair: number) => {
      const dataDir = join(dir, `data-${side}-${pair}`);
      mkdirSync(dataDir);
      const config = join(dataDir, 'switchyard.yaml');
      writeFileSync(config, gatewayConfig(scenario, { upstreamUrl: upstream.url, dataDir, runId, redisUrl }));
      return [...flags[side], 'bin/switchyard.js', 'serve', '--config', config, '--port', '0'];
    };
    process.stdout.write(
      `Comparing ${commits.baseline} (B) with ${commits.current} (C): scenario ${scenario}, ${values.mode}, ` +
        `${rate === undefined ? 'saturation' : `${rate} req/s`}, ${pairs} pair(s) of processes, ` +
        `${rounds} rounds of ${seconds} s each\n`,
    );
    const rows: Round[] = [];
    const pairRatios: number[] = [];
    for (let pair = 0; pair < pairs; pair++) {
      const gateways: Record<Side, Service> = {
        baseline: await startService('baseline', serve('baseline', pair), { cwd: baseline.root }),
        current: await startService('current', serve('current', pair), { cwd: ROOT }),
      };
      // JIT and heap sizing settle under load before anything counts: a fresh gateway needs 10-15 s
      // of saturation here before its CPU per request stops falling (~3x at first, see bench/README.md).
      for (let s = 0; s < WARM_UP_SECONDS; s += seconds) {
        for (const side of ['baseline', 'current'] as const) await measure(gateways[side]);
      }
      const pairRows: Round[] = [];
      for (let i = 0; i < rounds; i++) {
        const order: Side[] = i % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline'];
        const partial: Partial<Record<Side, { cpuUs: number; load: LoadResult }>> = {};
        for (const side of order) partial[side] = await measure(gateways[side]);
        const b = partial.baseline!;
        const c = partial.current!;
        pairRows.push({
          order,
          cpuUs: { baseline: b.cpuUs, current: c.cpuUs },
          load: { baseline: b.load, current: c.load },
        });
        process.stdout.write(
          `  pair ${pair + 1} round ${i + 1}: B ${fixed(b.cpuUs, 0)} µs/req, C ${fixed(c.cpuUs, 0)} µs/req\n`,
        );
      }
      rows.push(...pairRows);
      pairRatios.push(median(pairRows.map((r) => r.cpuUs.current / r.cpuUs.baseline)));
      await Promise.all([stopService(gateways.baseline.pid), stopService(gateways.current.pid)]);
    }
    process.stdout.write(`\n${report(rows, commits)}\n`);
    process.stdout.write(
      `  per pair of processes (median of its rounds): ${pairRatios.map((r) => fixed(r, 3)).join(', ')}; ` +
        `median ${fixed(median(pairRatios), 3)}. One pair of processes can differ from the next by ` +
        `±25% here (an A/A check shows this machine's spread: bench/README.md).\n`,
    );
  } finally {
    await stopAll(5_000);
    if (baselineRoot) git(['worktree', 'remove', '--force', baselineRoot]);
    rmSync(dir, { recursive: true, force: true });
    if (SCENARIOS[scenario].redis) await dropRedisKeys(redisUrl, `*${redisKeyName(runId)}*`).catch(() => 0);
  }
}

process.on('exit', killAllSync);
process.on('SIGINT', () => process.exit(130));
await main();

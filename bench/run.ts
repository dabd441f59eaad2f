/**
 * Switchyard's benchmark (`npm run bench`, or `node bench/run.ts` after `npm run build`).
 *
 * Starts the servers, each in its own process: the simulated OpenAI upstream, a bare pass-through
 * proxy in front of it, and one gateway per scenario (built CLI, generated config: plain, routing,
 * governed, limits, limits-redis; see lib/scenarios.ts) in front of it. Then, from this process,
 * drives each with autocannon in interleaved rounds and reports:
 *   1. saturation throughput, non-streaming and streaming, each gateway's share of the bare
 *      proxy's (and of the plain gateway's);
 *   2. latency at a fixed request rate (paced evenly), median across rounds, what the proxy and
 *      each gateway add to the direct latency, and each configuration over the plain gateway;
 *   3. each gateway's memory (live heap after a full GC) over a long fixed-rate run;
 *   4. the governed gateway's request-log write rate, the routing gateway's spread;
 *   5. the cost of admission and settlement on the limits layer itself (bench/limits.ts, run as
 *      a child process after the servers stopped);
 *   6. correctness of every answer, 7. the project's targets, PASS or FAIL.
 * Every run counts non-2xx answers, socket errors, timeouts and wrong bodies; any of them stops
 * the benchmark with exit code 1 (numbers measured on errors mean nothing).
 *
 * Flags: see lib/args.ts (`--help`). Results always go to .bench/last.json as well.
 *
 * This file only orchestrates; the pieces are in bench/lib/: args.ts (flags and settings),
 * scenarios.ts and gateway-config.ts (the gateways), servers.ts (starting them), phases.ts and
 * measure.ts (the load runs), targets.ts (PASS/FAIL), report.ts, fixed-rate-report.ts and
 * scenario-report.ts (the tables), rounds.ts (medians across rounds), metrics-scrape.ts
 * (/metrics), diagnostics.ts (--profile, --alloc-profile), json.ts (last.json), state.ts (what the
 * run has recorded so far).
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdmissionResult } from './lib/admission-result.ts';
import { args, QUICK, SETTINGS } from './lib/args.ts';
import { printAllocations, printProfile } from './lib/diagnostics.ts';
import { redisKeyName } from './lib/gateway-config.ts';
import { writeJson } from './lib/json.ts';
import { stopCurrentLoad } from './lib/load.ts';
import {
  firstCounters,
  fixedRatePhase,
  lastCounters,
  memoryPhase,
  saturationPhase,
  warmupPhase,
} from './lib/phases.ts';
import { killAllSync, runScript, stopAll, stopScripts } from './lib/processes.ts';
import { dropRedisKeys, redisProblem } from './lib/redis.ts';
import { gitDescription, logDir, newestMtime, ROOT } from './lib/repo.ts';
import { printReport } from './lib/report.ts';
import { SCENARIOS } from './lib/scenarios.ts';
import { startServices } from './lib/servers.ts';
import { BenchError, log, state } from './lib/state.ts';
import { memoryReports, type TargetCheck, targetChecks } from './lib/targets.ts';

let interrupted = false;
let configDir: string | undefined;
/** Unique to this run: the Redis scenario's key name carries it, so counters never collide. */
const runId = `${Date.now().toString(36)}-${process.pid}`;
const usesRedis = SETTINGS.scenarios.some((s) => SCENARIOS[s].redis);

async function shutdown(): Promise<void> {
  await stopAll(5_000);
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  configDir = undefined;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      killAllSync();
      process.exit(130);
    }
    interrupted = true;
    log(`\n${signal}: stopping the load and the servers…`);
    state.failure ??= `interrupted by ${signal}`;
    stopCurrentLoad();
    stopScripts();
    void shutdown().then(() => process.exit(130));
  });
}
process.on('exit', killAllSync);

function estimateSec(): number {
  const targets = 2 + SETTINGS.scenarios.length;
  const fixedRateRuns = targets + 3; // streaming: direct, proxy and one gateway
  // The saturation phase runs the proxy again after every gateway (phases.ts, bracketedRoundOrder).
  const saturationRuns = targets + SETTINGS.scenarios.length;
  return (
    2 * targets * SETTINGS.initialWarmupSec +
    2 * saturationRuns * SETTINGS.saturationRounds * (SETTINGS.warmupSec + SETTINGS.saturationSec) +
    fixedRateRuns * SETTINGS.fixedRateRounds * (SETTINGS.fixedRateWarmupSec + SETTINGS.fixedRateSec) +
    SETTINGS.scenarios.length * SETTINGS.memorySec +
    (SETTINGS.scenarios.some((s) => s === 'limits' || s === 'limits-redis') ? (QUICK ? 12 : 25) : 0)
  );
}

/** bench/limits.ts as a child process: the cost of admission and settlement on each store measured. */
async function admissionBenchmark(): Promise<void> {
  const stores = [
    ...(SETTINGS.scenarios.includes('limits') ? ['memory'] : []),
    ...(SETTINGS.scenarios.includes('limits-redis') ? ['redis'] : []),
  ];
  if (!stores.length) return;
  log(`\nAdmission and settlement: bench/limits.ts --stores ${stores.join(',')}`);
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-limits-'));
  const file = join(dir, 'admission.json');
  try {
    const exit = await runScript(
      [
        'bench/limits.ts',
        '--stores',
        stores.join(','),
        '--redis',
        SETTINGS.redisUrl,
        '--json',
        file,
        ...(QUICK ? ['--requests', '2000'] : []),
      ],
      { cwd: ROOT, logFile: join(logDir, 'limits.log') },
    );
    if (exit !== 'code 0' || !existsSync(file)) {
      state.admissionFailure = `bench/limits.ts ended with ${exit} (see ${join(logDir, 'limits.log')})`;
      return;
    }
    state.admission = JSON.parse(readFileSync(file, 'utf8')) as AdmissionResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const distEntry = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(distEntry)) {
    log('bench: the gateway is not built (dist/cli/main.js is missing): run `npm run build` first.');
    return 1;
  }
  const distBuiltMs = newestMtime(join(ROOT, 'dist'), '.js');
  state.build = { distBuiltAt: new Date(distBuiltMs).toISOString(), olderThanSrc: false };
  if (newestMtime(join(ROOT, 'src'), '.ts') > distBuiltMs) {
    state.build.olderThanSrc = true;
    log('bench: warning: src/ has changes newer than dist/: run `npm run build` (or `npm run bench`).');
  }
  if (usesRedis) {
    const problem = await redisProblem(SETTINGS.redisUrl);
    if (problem) {
      log(
        `bench: limits-redis needs Redis at ${SETTINGS.redisUrl} (--redis URL or SWITCHYARD_BENCH_REDIS): ${problem.replace(/\.+$/, '')}.\n` +
          'Start it, or leave the scenario out: --scenarios plain,routing,governed,limits',
      );
      return 1;
    }
  }
  mkdirSync(logDir, { recursive: true });
  state.git = gitDescription();
  log(
    `Switchyard benchmark${QUICK ? ' (quick)' : ''}: gateways ${SETTINGS.scenarios.join(', ')}; ` +
      `about ${Math.ceil(estimateSec() / 10) * 10} s of load`,
  );

  configDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  let checks: TargetCheck[] = [];
  try {
    log('Starting servers');
    await startServices(configDir, runId);
    await firstCounters();
    await warmupPhase();
    await saturationPhase();
    await fixedRatePhase();
    await memoryPhase();
    await lastCounters();
    await shutdown();
    if (!interrupted) await admissionBenchmark();
  } catch (err) {
    if (!interrupted)
      state.failure ??=
        err instanceof BenchError ? err.message : String(err instanceof Error ? err.stack : err);
  } finally {
    await shutdown();
    if (usesRedis) await dropRedisKeys(SETTINGS.redisUrl, `*${redisKeyName(runId)}*`).catch(() => 0);
  }
  const memory = memoryReports();
  checks = state.failure ? [] : targetChecks(memory);
  if (interrupted) return 130;

  printReport(memory, checks);
  if (SETTINGS.profile) printProfile();
  if (SETTINGS.allocProfile) printAllocations();
  writeJson(memory, checks);
  if (state.failure) {
    process.stdout.write(`\nBENCHMARK FAILED: ${state.failure}\n`);
    return 1;
  }
  const failed = checks.filter((c) => !c.pass);
  if (failed.length) {
    process.stdout.write(
      `\n${failed.length} target(s) FAILED${args.strict ? '' : ' (exit code 0 without --strict)'}\n`,
    );
    return args.strict ? 1 : 0;
  }
  process.stdout.write('\nAll targets PASS\n');
  return 0;
}

process.exitCode = await main();

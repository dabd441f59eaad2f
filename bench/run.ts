/**
 * Switchyard's benchmark (`npm run bench`, or `node bench/run.ts` after `npm run build`).
 *
 * Starts three servers, each in its own process: the simulated OpenAI upstream, a bare
 * pass-through proxy in front of it, and the gateway (built CLI, generated config) in front of
 * it. Then, from this process, drives each with autocannon and reports:
 *   1. saturation throughput, non-streaming and streaming, and the gateway's share of the
 *      bare proxy's and of the direct upstream's;
 *   2. latency at a fixed request rate (paced evenly), in R interleaved rounds (median across
 *      rounds, and each round's p99), and what the proxy and the gateway add to the direct
 *      latency at p50 and p99;
 *   3. the gateway's resident memory over a long fixed-rate run;
 *   4. the project's targets, PASS or FAIL.
 * Every run counts non-2xx answers, socket errors, timeouts and wrong bodies; any of them stops
 * the benchmark with exit code 1 (numbers measured on errors mean nothing).
 *
 * Flags: --quick (short runs: a smoke check), --json FILE (also write all numbers there),
 * --connections N (default 50), --rate N (fixed rate, default 1000), --rounds N (fixed-rate
 * rounds, default 3, 1 with --quick), --profile (CPU-profile the
 * gateway and list its hot spots; slows it), --strict (exit 1 when a target fails).
 * Results always go to .bench/last.json as well.
 *
 * This file only orchestrates; the pieces are in bench/lib/: args.ts (flags and settings),
 * servers.ts (starting the three servers), phases.ts (the load runs), targets.ts (PASS/FAIL),
 * report.ts and fixed-rate-report.ts (the tables), rounds.ts (medians across fixed-rate rounds),
 * diagnostics.ts (--profile, --alloc-profile), json.ts (last.json),
 * state.ts (what the run has recorded so far).
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, QUICK, SETTINGS } from './lib/args.ts';
import { printAllocations, printProfile } from './lib/diagnostics.ts';
import { writeJson } from './lib/json.ts';
import { stopCurrentLoad } from './lib/load.ts';
import { fixedRatePhase, memoryPhase, saturationPhase, warmupPhase } from './lib/phases.ts';
import { killAllSync, stopAll } from './lib/processes.ts';
import { newestMtime, ROOT } from './lib/repo.ts';
import { printReport } from './lib/report.ts';
import { startServices } from './lib/servers.ts';
import { BenchError, log, state } from './lib/state.ts';
import { type MemoryReport, memoryReport, type TargetCheck, targetChecks } from './lib/targets.ts';

let interrupted = false;
let configDir: string | undefined;

async function shutdown(): Promise<void> {
  await stopAll(5_000);
  if (configDir) rmSync(configDir, { recursive: true, force: true });
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
    void shutdown().then(() => process.exit(130));
  });
}
process.on('exit', killAllSync);

async function main(): Promise<number> {
  const distEntry = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(distEntry)) {
    log('bench: the gateway is not built (dist/cli/main.js is missing): run `npm run build` first.');
    return 1;
  }
  if (newestMtime(join(ROOT, 'src'), '.ts') > newestMtime(join(ROOT, 'dist'), '.js')) {
    log('bench: warning: src/ has changes newer than dist/: run `npm run build` (or `npm run bench`).');
  }
  const estimate =
    6 * SETTINGS.initialWarmupSec +
    6 * SETTINGS.saturationRounds * (SETTINGS.warmupSec + SETTINGS.saturationSec) +
    6 * SETTINGS.fixedRateRounds * (SETTINGS.fixedRateWarmupSec + SETTINGS.fixedRateSec) +
    SETTINGS.memorySec;
  log(`Switchyard benchmark${QUICK ? ' (quick)' : ''}: about ${Math.ceil(estimate / 10) * 10} s of load`);

  configDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  let memory: MemoryReport | undefined;
  let checks: TargetCheck[] = [];
  try {
    log('Starting servers');
    await startServices(configDir);
    await warmupPhase();
    await saturationPhase();
    await fixedRatePhase();
    await memoryPhase();
  } catch (err) {
    if (!interrupted)
      state.failure ??=
        err instanceof BenchError ? err.message : String(err instanceof Error ? err.stack : err);
  } finally {
    memory = memoryReport();
    checks = state.failure ? [] : targetChecks(memory);
    await shutdown();
  }
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

/** The machine-readable results: .bench/last.json, and --json FILE when given. */

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { args, SETTINGS } from './args.ts';
import { quietStats } from './quiet.ts';
import { ROOT } from './repo.ts';
import { MODES } from './requests.ts';
import { allRoundsSummaries, allSaturationSummaries, pairedSaturationRatio } from './rounds.ts';
import { log, state } from './state.ts';
import { type MemoryReport, TARGETS, type TargetCheck } from './targets.ts';

export function writeJson(memory: Partial<Record<string, MemoryReport>>, checks: TargetCheck[]): void {
  const data = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim(),
    git: state.git,
    build: state.build ?? null,
    settings: SETTINGS,
    targets: TARGETS,
    services: Object.fromEntries(
      Object.entries(state.services).map(([name, s]) => [name, { pid: s.pid, url: s.url }]),
    ),
    failure: state.failure ?? null,
    runs: state.records,
    /** Saturation medians across the interleaved rounds. */
    saturationRounds: allSaturationSummaries(),
    /** Each gateway's throughput over the bare proxy's, per round and the median, per mode. */
    gatewayShareOfProxy: Object.fromEntries(
      SETTINGS.scenarios.map((s) => [
        s,
        Object.fromEntries(MODES.map((m) => [m, pairedSaturationRatio(m, s, 'proxy') ?? null])),
      ]),
    ),
    /** Fixed-rate medians across the interleaved rounds, with each round's p99. */
    fixedRateRounds: allRoundsSummaries(),
    /** Per gateway. */
    memory,
    /** Each gateway's /metrics counters before the load and after the last run. */
    counters: state.counters,
    /** bench/limits.ts: the cost of admission and settlement. */
    admission: state.admission ?? null,
    /** --wait-quiet: how often and how long the run waited for a quiet machine. */
    quiet: quietStats,
    checks,
    passed: state.failure === undefined && checks.every((c) => c.pass),
  };
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const last = join(ROOT, '.bench', 'last.json');
  mkdirSync(dirname(last), { recursive: true });
  writeFileSync(last, text);
  const files = [last];
  if (args.json) {
    const file = resolve(args.json);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    files.push(file);
  }
  log(`\nresults written to ${files.join(' and ')}`);
}

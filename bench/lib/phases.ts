/**
 * The benchmark's phases: warm-up, saturation, fixed rate and memory. Each load run goes through
 * `measure`, which records it in `state.records` and throws a BenchError on any failed request.
 */

import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NOISE_CORES, SETTINGS } from './args.ts';
import { type LoadResult, runLoad } from './load.ts';
import { readCpuMs, readRssBytes, readStealMs, readSystemBusyMs } from './processes.ts';
import { heapProbeFile } from './repo.ts';
import {
  chatRequest,
  LABEL,
  MODES,
  type Mode,
  TARGET_NAMES,
  type TargetName,
  verifyBody,
} from './requests.ts';
import { BenchError, checkFailure, log, type RunRecord, type ServerName, state } from './state.ts';
import { fixed, int } from './table.ts';

function urlOf(target: TargetName): string {
  const service = target === 'direct' ? state.services.upstream : state.services[target];
  if (!service) throw new BenchError(`${target} is not running`);
  return service.url;
}

function cpuSnapshot(): Partial<Record<ServerName, number>> {
  const out: Partial<Record<ServerName, number>> = {};
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const pid = state.services[name]?.pid;
    const ms = pid === undefined ? undefined : readCpuMs(pid);
    if (ms !== undefined) out[name] = ms;
  }
  return out;
}

function describeProblems(load: LoadResult): string | undefined {
  const problems: string[] = [];
  if (load.non2xx) problems.push(`${load.non2xx} non-2xx (${JSON.stringify(load.statusCodes)})`);
  if (load.errors) problems.push(`${load.errors} errors (${load.timeouts} timeouts)`);
  if (load.mismatches) problems.push(`${load.mismatches} wrong bodies`);
  if (load.ok === 0) problems.push('no successful response at all');
  return problems.length ? problems.join(', ') : undefined;
}

async function measure(
  phase: RunRecord['phase'],
  target: TargetName,
  mode: Mode | 'mixed',
  durationSec: number,
  rate?: number,
  round?: number,
): Promise<RunRecord> {
  const requests =
    mode === 'mixed'
      ? [chatRequest(target, false), chatRequest(target, true)]
      : [chatRequest(target, mode === 'streaming')];
  const before = cpuSnapshot();
  const systemBefore = readSystemBusyMs();
  const stealBefore = readStealMs();
  const load = await runLoad({
    url: urlOf(target),
    requests,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    verifyBody,
  });
  const after = cpuSnapshot();
  const systemAfter = readSystemBusyMs();
  const stealAfter = readStealMs();
  const cpuUsPerRequest: RunRecord['cpuUsPerRequest'] = {};
  const cpuCores: RunRecord['cpuCores'] = {};
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const a = after[name];
    const b = before[name];
    if (a === undefined || b === undefined) continue;
    cpuCores[name] = (a - b) / (load.elapsedSec * 1000);
    if (load.ok > 0) cpuUsPerRequest[name] = ((a - b) * 1000) / load.ok;
  }
  let otherCores: number | undefined;
  if (systemBefore !== undefined && systemAfter !== undefined) {
    let ours = load.loaderCpuMs;
    for (const name of ['upstream', 'proxy', 'gateway'] as const) {
      const a = after[name];
      const b = before[name];
      if (a !== undefined && b !== undefined) ours += a - b;
    }
    otherCores = Math.max(0, (systemAfter - systemBefore - ours) / (load.elapsedSec * 1000));
  }
  const record: RunRecord = {
    phase,
    target,
    mode,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    ...(round === undefined ? {} : { round }),
    load,
    cpuUsPerRequest,
    cpuCores,
    otherCores,
    stealCores:
      stealBefore === undefined || stealAfter === undefined
        ? undefined
        : (stealAfter - stealBefore) / (load.elapsedSec * 1000),
  };
  state.records.push(record);
  const l = load.latencyMs;
  log(
    `  ${`${phase}${round === undefined ? '' : ` r${round}`}`.padEnd(13)} ${LABEL[target].padEnd(10)} ${mode.padEnd(13)} ${int(load.rps).padStart(6)} req/s` +
      `  p50 ${fixed(l.p50, 2)} ms  p99 ${fixed(l.p99, 2)} ms` +
      (otherCores !== undefined && otherCores > NOISE_CORES
        ? `  (other processes: ${fixed(otherCores, 2)} cores)`
        : ''),
  );
  const problems = describeProblems(load);
  if (problems) {
    throw new BenchError(
      `${phase} run against ${LABEL[target]} (${mode}) had ${problems}.\n` +
        `First samples:\n${load.samples.map((s) => `    ${s}`).join('\n')}`,
    );
  }
  return record;
}

/** Node servers need several seconds of load before JIT and heap sizes settle: warm all first. */
export async function warmupPhase(): Promise<void> {
  log(`\nWarm-up: ${SETTINGS.initialWarmupSec} s at saturation per target and mode`);
  for (const target of TARGET_NAMES) {
    for (const mode of MODES) {
      await measure('warm-up', target, mode, SETTINGS.initialWarmupSec);
      checkFailure();
    }
  }
}

/**
 * R rounds, like the fixed-rate phase: the machine's speed drifts by tens of percent within a
 * minute, so a ratio of two runs taken a minute apart measures the drift; a ratio within a round
 * (runs seconds apart) mostly does not, and the median across rounds drops a disturbed one.
 */
export async function saturationPhase(): Promise<void> {
  const rounds = SETTINGS.saturationRounds;
  log(
    `\nSaturation: ${SETTINGS.connections} connections, ${SETTINGS.saturationSec} s per run, ` +
      `${rounds} interleaved round${rounds === 1 ? '' : 's'}`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const mode of MODES) {
      for (const target of TARGET_NAMES) {
        await measure('warm-up', target, mode, SETTINGS.warmupSec, undefined, round);
        checkFailure();
        await measure('saturation', target, mode, SETTINGS.saturationSec, undefined, round);
        checkFailure();
      }
    }
  }
}

/**
 * R rounds; each runs direct, proxy and gateway back to back for each mode, so a slow period of
 * the machine hits all three targets of a round, not one target's only run.
 */
export async function fixedRatePhase(): Promise<void> {
  const rounds = SETTINGS.fixedRateRounds;
  log(
    `\nFixed rate: ${int(SETTINGS.fixedRate)} req/s paced, ${SETTINGS.fixedRateSec} s per run, ` +
      `${rounds} interleaved round${rounds === 1 ? '' : 's'}`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const mode of MODES) {
      for (const target of TARGET_NAMES) {
        const { fixedRate, fixedRateWarmupSec, fixedRateSec } = SETTINGS;
        await measure('warm-up', target, mode, fixedRateWarmupSec, fixedRate, round);
        checkFailure();
        await measure('fixed-rate', target, mode, fixedRateSec, fixedRate, round);
        checkFailure();
      }
    }
  }
}

function heapProbeLines(): string[] {
  return existsSync(heapProbeFile) ? readFileSync(heapProbeFile, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * Asks the gateway's heap probe (heap-probe.ts) for a full GC and the live heap after it; undefined
 * when no answer comes within two seconds.
 */
async function probeLiveHeap(pid: number): Promise<number | undefined> {
  const before = heapProbeLines().length;
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 2000; waited += 20) {
    await sleep(20);
    const lines = heapProbeLines();
    if (lines.length > before) return Number(lines.at(-1));
  }
  return undefined;
}

/**
 * The gateway alone at the fixed rate for a long run. Every sample (into `state.memorySamples`)
 * reads its RSS, then its live heap after a full GC: RSS also moves when V8 resizes the heap it
 * keeps, the live heap only when something is retained.
 */
export async function memoryPhase(): Promise<void> {
  const pid = state.services.gateway!.pid;
  log(
    `\nMemory: gateway at ${int(SETTINGS.fixedRate)} req/s for ${SETTINGS.memorySec} s (half streaming), ` +
      `RSS and live heap (after a full GC) every ${SETTINGS.memorySampleSec} s`,
  );
  state.memorySamples = [];
  const started = Date.now();
  const sample = async () => {
    const tSec = (Date.now() - started) / 1000;
    const rss = readRssBytes(pid);
    if (rss === undefined) return;
    const live = await probeLiveHeap(pid);
    state.memorySamples.push({ tSec, rssBytes: rss, ...(live === undefined ? {} : { liveHeapBytes: live }) });
  };
  await sample();
  let pending = Promise.resolve();
  const timer = setInterval(() => {
    pending = pending.then(sample);
  }, SETTINGS.memorySampleSec * 1000);
  try {
    await measure('memory', 'gateway', 'mixed', SETTINGS.memorySec, SETTINGS.fixedRate);
  } finally {
    clearInterval(timer);
  }
  await pending;
  const last = state.memorySamples.at(-1);
  if (!last || last.tSec < SETTINGS.memorySec - SETTINGS.memorySampleSec / 2) await sample();
  checkFailure();
}

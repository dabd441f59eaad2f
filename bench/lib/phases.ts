/**
 * The benchmark's phases: warm-up, saturation, fixed rate and memory. Each load run goes through
 * `measure` (measure.ts), which records it in `state.records` and throws a BenchError on any
 * failed request.
 */

import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SETTINGS } from './args.ts';
import { measure } from './measure.ts';
import { scrape } from './metrics-scrape.ts';
import { readRssBytes } from './processes.ts';
import { waitForQuiet } from './quiet.ts';
import { heapProbeFile } from './repo.ts';
import { isGateway, MODES, type Mode, type TargetName } from './requests.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { BenchError, checkFailure, log, state } from './state.ts';
import { int } from './table.ts';

/**
 * The targets of one round, in the order they run: direct and the bare proxy, then the gateways,
 * their order rotated by one each round so that no gateway always runs furthest from the proxy
 * it is compared with (the machine's speed drifts within a round too).
 */
export function roundOrder(round: number): TargetName[] {
  const gateways = SETTINGS.scenarios;
  const shift = (round - 1) % gateways.length;
  return ['direct', 'proxy', ...gateways.slice(shift), ...gateways.slice(0, shift)];
}

/**
 * The saturation phase's order: the bare proxy also runs after every gateway, so each gateway run
 * sits between two proxy runs seconds away and is compared with their mean. This machine's speed
 * drifts by up to 2x over minutes, and a gateway compared only with the round's one proxy run, up
 * to a minute earlier, measured that drift as much as itself.
 */
export function bracketedRoundOrder(round: number): TargetName[] {
  const [direct, proxy, ...gateways] = roundOrder(round) as [TargetName, TargetName, ...TargetName[]];
  return [direct, proxy, ...gateways.flatMap((g): TargetName[] => [g, proxy])];
}

/** Streaming runs at the fixed rate only for direct, the proxy and the reference gateway. */
function runsAtFixedRate(target: TargetName, mode: Mode): boolean {
  return mode === 'non-streaming' || !isGateway(target) || target === SETTINGS.streamingFixedRateGateway;
}

/** Node servers need several seconds of load before JIT and heap sizes settle: warm all first. */
export async function warmupPhase(): Promise<void> {
  log(`\nWarm-up: ${SETTINGS.initialWarmupSec} s at saturation per target and mode`);
  for (const target of roundOrder(1)) {
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
      for (const target of bracketedRoundOrder(round)) {
        await waitForQuiet();
        await measure('warm-up', target, mode, SETTINGS.warmupSec, undefined, round);
        checkFailure();
        await measure('saturation', target, mode, SETTINGS.saturationSec, undefined, round);
        checkFailure();
      }
    }
  }
}

/**
 * R rounds; each runs direct, proxy and the gateways back to back for each mode, so a slow period
 * of the machine hits every target of a round, not one target's only run.
 */
export async function fixedRatePhase(): Promise<void> {
  const rounds = SETTINGS.fixedRateRounds;
  log(
    `\nFixed rate: ${int(SETTINGS.fixedRate)} req/s paced, ${SETTINGS.fixedRateSec} s per run, ` +
      `${rounds} interleaved round${rounds === 1 ? '' : 's'} (streaming: direct, proxy and gw ${SETTINGS.streamingFixedRateGateway})`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const mode of MODES) {
      for (const target of roundOrder(round)) {
        if (!runsAtFixedRate(target, mode)) continue;
        const { fixedRate, fixedRateWarmupSec, fixedRateSec } = SETTINGS;
        await waitForQuiet();
        await measure('warm-up', target, mode, fixedRateWarmupSec, fixedRate, round);
        checkFailure();
        await measure('fixed-rate', target, mode, fixedRateSec, fixedRate, round);
        checkFailure();
      }
    }
  }
}

function heapProbeLines(scenario: ScenarioName): string[] {
  const file = heapProbeFile(scenario);
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * Asks a gateway's heap probe (heap-probe.ts) for a full GC and the live heap after it; undefined
 * when no answer comes within two seconds.
 */
async function probeLiveHeap(scenario: ScenarioName, pid: number): Promise<number | undefined> {
  const before = heapProbeLines(scenario).length;
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 2000; waited += 20) {
    await sleep(20);
    const lines = heapProbeLines(scenario);
    if (lines.length > before) return Number(lines.at(-1));
  }
  return undefined;
}

/**
 * Each gateway alone at the fixed rate for a long run, one after another. Every sample reads its
 * RSS, then its live heap after a full GC: RSS also moves when V8 resizes the heap it keeps, the
 * live heap only when something is retained.
 */
export async function memoryPhase(): Promise<void> {
  log(
    `\nMemory: each gateway at ${int(SETTINGS.fixedRate)} req/s for ${SETTINGS.memorySec} s (half streaming), ` +
      `RSS and live heap (after a full GC) every ${SETTINGS.memorySampleSec} s`,
  );
  for (const scenario of SETTINGS.scenarios) {
    const pid = state.services[scenario]!.pid;
    await waitForQuiet();
    const samples: NonNullable<(typeof state.memorySamples)[ScenarioName]> = [];
    state.memorySamples[scenario] = samples;
    const started = Date.now();
    const sample = async () => {
      const tSec = (Date.now() - started) / 1000;
      const rss = readRssBytes(pid);
      if (rss === undefined) return;
      const live = await probeLiveHeap(scenario, pid);
      samples.push({ tSec, rssBytes: rss, ...(live === undefined ? {} : { liveHeapBytes: live }) });
    };
    await sample();
    let pending = Promise.resolve();
    const timer = setInterval(() => {
      pending = pending.then(sample);
    }, SETTINGS.memorySampleSec * 1000);
    try {
      await measure('memory', scenario, 'mixed', SETTINGS.memorySec, SETTINGS.fixedRate);
    } finally {
      clearInterval(timer);
    }
    await pending;
    const last = samples.at(-1);
    if (!last || last.tSec < SETTINGS.memorySec - SETTINGS.memorySampleSec / 2) await sample();
    checkFailure();
  }
}

/** Every gateway's counters before any load (the request log's, requests per provider). */
export async function firstCounters(): Promise<void> {
  for (const scenario of SETTINGS.scenarios) {
    state.counters[scenario] = { first: await scrape(state.services[scenario]!.url) };
  }
}

/**
 * Every gateway's counters after the last run, once its request log has written what it queued
 * (at most 15 s): then written + dropped must equal the requests it recorded.
 */
export async function lastCounters(): Promise<void> {
  for (const scenario of SETTINGS.scenarios) {
    const url = state.services[scenario]!.url;
    let counters = await scrape(url);
    for (let waited = 0; SCENARIOS[scenario].requestLog && counters.requestLogQueued > 0; waited += 250) {
      if (waited >= 15_000)
        throw new BenchError(`gw ${scenario}: its request log still queues records after 15 s`);
      await sleep(250);
      counters = await scrape(url);
    }
    const entry = state.counters[scenario];
    if (entry) entry.last = counters;
  }
}

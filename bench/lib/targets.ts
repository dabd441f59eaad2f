/** The project's targets for the gateway, checked PASS or FAIL against the recorded runs. */

import { ADMISSION_TARGET_P50_MS } from './admission-result.ts';
import { SETTINGS } from './args.ts';
import { label, MODES } from './requests.ts';
import { pairedSaturationRatio, roundsSummary } from './rounds.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { type MemorySample, state } from './state.ts';
import { fixed, int, percent, signed } from './table.ts';

/** The issues' targets (issue 11 restated the p99 one; issue 10 set the admission ones). */
export const TARGETS = {
  /** At the fixed rate, non-streaming: gateway's added p99 minus the bare proxy's added p99. */
  p99OverProxyMs: 1,
  throughputShareOfProxy: 0.6,
  memoryGrowthSecondHalf: 0.1,
  admissionP50Ms: ADMISSION_TARGET_P50_MS,
};

export interface TargetCheck {
  name: string;
  measured: string;
  pass: boolean;
}

export interface MemoryReport {
  samples: MemorySample[];
  startBytes: number;
  endBytes: number;
  maxBytes: number;
  midBytes: number;
  /** (end − mid) / mid: growth over the second half of the run. */
  secondHalfGrowth: number;
  /** The same for the live heap after a full GC, when every sample has it: the leak check. */
  liveHeap?: { startBytes: number; midBytes: number; endBytes: number; secondHalfGrowth: number };
}

/** Summarizes one gateway's memory samples; undefined without at least two. */
export function memoryReport(samples: MemorySample[] | undefined): MemoryReport | undefined {
  if (!samples || samples.length < 2) return undefined;
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const midTime = (first.tSec + last.tSec) / 2;
  let mid = first;
  for (const s of samples) if (Math.abs(s.tSec - midTime) < Math.abs(mid.tSec - midTime)) mid = s;
  const report: MemoryReport = {
    samples,
    startBytes: first.rssBytes,
    endBytes: last.rssBytes,
    maxBytes: Math.max(...samples.map((s) => s.rssBytes)),
    midBytes: mid.rssBytes,
    secondHalfGrowth: (last.rssBytes - mid.rssBytes) / mid.rssBytes,
  };
  if (first.liveHeapBytes && mid.liveHeapBytes && last.liveHeapBytes) {
    report.liveHeap = {
      startBytes: first.liveHeapBytes,
      midBytes: mid.liveHeapBytes,
      endBytes: last.liveHeapBytes,
      secondHalfGrowth: (last.liveHeapBytes - mid.liveHeapBytes) / mid.liveHeapBytes,
    };
  }
  return report;
}

export function memoryReports(): Partial<Record<ScenarioName, MemoryReport>> {
  const out: Partial<Record<ScenarioName, MemoryReport>> = {};
  for (const s of SETTINGS.scenarios) {
    const report = memoryReport(state.memorySamples[s]);
    if (report) out[s] = report;
  }
  return out;
}

const rounds = (n: number) => `median of ${n} round${n === 1 ? '' : 's'}`;

/** Issue 11: added p99 at the fixed rate, gateway's minus the bare proxy's (both over direct). */
function p99Check(scenario: ScenarioName): TargetCheck | undefined {
  const direct = roundsSummary('direct', 'non-streaming');
  const proxy = roundsSummary('proxy', 'non-streaming');
  const gateway = roundsSummary(scenario, 'non-streaming');
  if (!direct || !proxy || !gateway) return undefined;
  const gatewayAdded = gateway.p99 - direct.p99;
  const proxyAdded = proxy.p99 - direct.p99;
  const over = gatewayAdded - proxyAdded;
  return {
    name:
      `${label(scenario)}: added p99 <= bare proxy's added p99 + ${TARGETS.p99OverProxyMs} ms ` +
      `(${int(SETTINGS.fixedRate)} req/s, non-streaming; ${rounds(Math.min(direct.rounds, proxy.rounds, gateway.rounds))})`,
    measured: `${signed(gatewayAdded, 2)} vs ${signed(proxyAdded, 2)} ms: ${signed(over, 2)} ms`,
    pass: over <= TARGETS.p99OverProxyMs,
  };
}

/** Issue 9: the request log dropped nothing, and wrote one record per request the gateway recorded. */
function requestLogCheck(scenario: ScenarioName): TargetCheck | undefined {
  const counters = state.counters[scenario];
  if (!counters?.last) return undefined;
  const { first, last } = counters;
  const dropped = last.requestLogDropped - first.requestLogDropped;
  const written = last.requestLogWritten - first.requestLogWritten;
  const recorded = last.requests - first.requests;
  return {
    name: `${label(scenario)}: request log drops nothing (written = requests recorded, whole run)`,
    measured: `${int(written)} of ${int(recorded)} written, ${int(dropped)} dropped`,
    pass: dropped === 0 && written === recorded && written > 0,
  };
}

function admissionChecks(): TargetCheck[] {
  const result = state.admission;
  const checks: TargetCheck[] = [];
  for (const store of ['memory', 'redis'] as const) {
    const wanted = store === 'memory' ? 'limits' : 'limits-redis';
    if (!SETTINGS.scenarios.includes(wanted)) continue;
    const series = result?.series.find((s) => s.store === store && s.mode === 'sequential');
    const why = result?.skipped[store] ?? state.admissionFailure ?? 'not measured';
    checks.push({
      name: `admission + settlement p50 <= ${TARGETS.admissionP50Ms[store]} ms per request (${store === 'memory' ? 'in process' : 'Redis'}; bench/limits.ts, sequential)`,
      measured: series ? `${fixed(series.both.p50, 3)} ms (p99 ${fixed(series.both.p99, 3)})` : why,
      pass: series !== undefined && series.both.p50 <= TARGETS.admissionP50Ms[store],
    });
  }
  return checks;
}

export function targetChecks(memory: Partial<Record<ScenarioName, MemoryReport>>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const scenario of SETTINGS.scenarios) {
    for (const mode of MODES) {
      // Gateway over proxy within each round, then the median across rounds.
      const share = pairedSaturationRatio(mode, scenario, 'proxy');
      if (!share) continue;
      checks.push({
        name: `${label(scenario)}: throughput >= ${percent(TARGETS.throughputShareOfProxy)} of the bare proxy's (${mode}; ${rounds(share.perRound.length)})`,
        measured: percent(share.median, 1),
        pass: share.median >= TARGETS.throughputShareOfProxy,
      });
    }
    if (SCENARIOS[scenario].p99Target) {
      const check = p99Check(scenario);
      if (check) checks.push(check);
    }
    const m = memory[scenario];
    if (m) {
      // The live heap after a full GC is the leak check; RSS also grows when V8 enlarges the heap
      // it keeps. Without live-heap samples (the probe did not answer), RSS is all there is.
      const growth = m.liveHeap?.secondHalfGrowth ?? m.secondHalfGrowth;
      checks.push({
        name: `${label(scenario)}: memory flat over ${SETTINGS.memorySec} s (${m.liveHeap ? 'live heap after full GC' : 'RSS'}, second-half growth < ${percent(TARGETS.memoryGrowthSecondHalf)})`,
        measured: `${signed(growth * 100, 1)}%`,
        pass: growth < TARGETS.memoryGrowthSecondHalf,
      });
    }
    if (SCENARIOS[scenario].requestLog) {
      const check = requestLogCheck(scenario);
      if (check) checks.push(check);
    }
  }
  checks.push(...admissionChecks());
  return checks;
}

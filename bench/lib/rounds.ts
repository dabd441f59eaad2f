/**
 * The saturation and fixed-rate phases run in R interleaved rounds; these summarize a target and
 * mode across them: the median of each statistic over the rounds (a host stall that hits one round
 * does not decide the figure), and the rounds themselves so the spread stays visible.
 */

import { MODES, type Mode, type TargetName } from './requests.ts';
import { SCENARIO_NAMES } from './scenarios.ts';
import { type RunRecord, state } from './state.ts';

/** Every target that has runs, in the canonical order: direct, proxy, then the gateways. */
export function measuredTargets(): TargetName[] {
  const all: TargetName[] = ['direct', 'proxy', ...SCENARIO_NAMES];
  return all.filter((t) => state.records.some((r) => r.target === t));
}

/** Median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!sorted.length) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians across rounds of one target and mode at the fixed rate. */
export interface RoundsSummary {
  target: TargetName;
  mode: Mode;
  rounds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** CPU µs per request of the process under test (the upstream itself for direct). */
  serverCpuUsPerRequest: number;
  otherCores: number;
  stealCores: number;
  late: number;
  /** Each round's p99, in round order. */
  p99PerRound: number[];
}

/** CPU µs per request of the process under test: the upstream itself for direct. */
export function serverCpuOf(r: RunRecord): number | undefined {
  return r.cpuUsPerRequest[r.target === 'direct' ? 'upstream' : r.target];
}

/** The measured runs of one phase, target and mode, in round order. */
export function phaseRuns(phase: 'saturation' | 'fixed-rate', target: TargetName, mode: Mode): RunRecord[] {
  return state.records
    .filter((r) => r.phase === phase && r.target === target && r.mode === mode)
    .sort((a, b) => (a.round ?? 0) - (b.round ?? 0));
}

/** A summary of every target and mode that has one, modes outer, for the report and last.json. */
function everyTargetAndMode<S>(summarize: (target: TargetName, mode: Mode) => S | undefined): S[] {
  const out: S[] = [];
  for (const mode of MODES) {
    for (const target of measuredTargets()) {
      const s = summarize(target, mode);
      if (s) out.push(s);
    }
  }
  return out;
}

export function roundsSummary(target: TargetName, mode: Mode): RoundsSummary | undefined {
  const runs = phaseRuns('fixed-rate', target, mode);
  if (!runs.length) return undefined;
  const med = (f: (r: RunRecord) => number | undefined) => median(runs.map((r) => f(r) ?? Number.NaN));
  return {
    target,
    mode,
    rounds: runs.length,
    rps: med((r) => r.load.rps),
    p50: med((r) => r.load.latencyMs.p50),
    p90: med((r) => r.load.latencyMs.p90),
    p99: med((r) => r.load.latencyMs.p99),
    p999: med((r) => r.load.latencyMs.p999),
    max: med((r) => r.load.latencyMs.max),
    serverCpuUsPerRequest: med(serverCpuOf),
    otherCores: med((r) => r.otherCores),
    stealCores: med((r) => r.stealCores),
    late: med((r) => r.load.late),
    p99PerRound: runs.map((r) => r.load.latencyMs.p99),
  };
}

export function allRoundsSummaries(): RoundsSummary[] {
  return everyTargetAndMode(roundsSummary);
}

/** Medians across the saturation rounds of one target and mode. */
export interface SaturationSummary {
  target: TargetName;
  mode: Mode;
  rounds: number;
  rps: number;
  p50: number;
  p99: number;
  serverCpuUsPerRequest: number;
  upstreamCpuUsPerRequest: number;
  serverCores: number;
  loaderCores: number;
  otherCores: number;
  /** Responses over all rounds. */
  responses: number;
}

export function saturationSummary(target: TargetName, mode: Mode): SaturationSummary | undefined {
  const runs = phaseRuns('saturation', target, mode);
  if (!runs.length) return undefined;
  const med = (f: (r: RunRecord) => number | undefined) => median(runs.map((r) => f(r) ?? Number.NaN));
  const server = target === 'direct' ? ('upstream' as const) : target;
  return {
    target,
    mode,
    rounds: runs.length,
    rps: med((r) => r.load.rps),
    p50: med((r) => r.load.latencyMs.p50),
    p99: med((r) => r.load.latencyMs.p99),
    serverCpuUsPerRequest: med(serverCpuOf),
    upstreamCpuUsPerRequest: med((r) => r.cpuUsPerRequest.upstream),
    serverCores: med((r) => r.cpuCores[server]),
    loaderCores: med((r) => r.load.loaderCpuMs / (r.load.elapsedSec * 1000)),
    otherCores: med((r) => r.otherCores),
    responses: runs.reduce((sum, r) => sum + r.load.ok, 0),
  };
}

/**
 * A ratio (or difference) between two targets, taken within each round (runs seconds apart, so
 * the machine's drift mostly cancels; against the bare proxy, the mean of the proxy runs just
 * before and just after), then the median across rounds.
 */
export interface PairedRatio {
  median: number;
  perRound: number[];
}

export function pairedSaturationRatio(
  mode: Mode,
  numerator: TargetName,
  denominator: TargetName,
  value: (r: RunRecord) => number | undefined = (r) => r.load.rps,
): PairedRatio | undefined {
  return paired('saturation', mode, numerator, denominator, value, (a, b) => (b > 0 ? a / b : undefined));
}

/**
 * A difference between two targets at the fixed rate (a statistic of `a` minus the same of `b`),
 * taken within each round, then the median across rounds: what one gateway configuration adds
 * over another, with the round's slow periods hitting both.
 */
export function pairedFixedRateDifference(
  mode: Mode,
  a: TargetName,
  b: TargetName,
  value: (r: RunRecord) => number | undefined,
): PairedRatio | undefined {
  return paired('fixed-rate', mode, a, b, value, (x, y) => x - y);
}

function paired(
  phase: 'saturation' | 'fixed-rate',
  mode: Mode,
  a: TargetName,
  b: TargetName,
  value: (r: RunRecord) => number | undefined,
  combine: (a: number, b: number) => number | undefined,
): PairedRatio | undefined {
  const bRuns = phaseRuns(phase, b, mode);
  const perRound: number[] = [];
  const aRuns = phaseRuns(phase, a, mode);
  for (const round of new Set(aRuns.map((r) => r.round))) {
    const inRound: number[] = [];
    for (const run of aRuns.filter((r) => r.round === round)) {
      const av = value(run);
      const bv = neighbourValue(run, bRuns, value);
      const combined = av === undefined || bv === undefined ? undefined : combine(av, bv);
      if (combined !== undefined && Number.isFinite(combined)) inRound.push(combined);
    }
    if (inRound.length) perRound.push(inRound.reduce((x, y) => x + y, 0) / inRound.length);
  }
  return perRound.length ? { median: median(perRound), perRound } : undefined;
}

/**
 * The value of `run`'s comparison target in the same round: the mean of its runs just before and
 * just after `run` when both exist (the saturation phase brackets every gateway run with bare-proxy
 * runs, so a drift of the machine's speed that is linear over the three runs cancels), else the
 * nearest one, else the round's only run.
 */
function neighbourValue(
  run: RunRecord,
  others: RunRecord[],
  value: (r: RunRecord) => number | undefined,
): number | undefined {
  const at = state.records.indexOf(run);
  const sameRound = others.filter((r) => r.round === run.round);
  let before: RunRecord | undefined;
  let after: RunRecord | undefined;
  for (const other of sameRound) {
    const i = state.records.indexOf(other);
    if (i < at && (!before || i > state.records.indexOf(before))) before = other;
    if (i > at && (!after || i < state.records.indexOf(after))) after = other;
  }
  const values = [before, after].flatMap((r) => {
    const v = r ? value(r) : undefined;
    return v === undefined || Number.isNaN(v) ? [] : [v];
  });
  if (!values.length) return undefined;
  return values.reduce((x, y) => x + y, 0) / values.length;
}

export function allSaturationSummaries(): SaturationSummary[] {
  return everyTargetAndMode(saturationSummary);
}

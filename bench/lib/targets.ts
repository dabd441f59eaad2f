/** The project's targets for the gateway, checked PASS or FAIL against the recorded runs. */

import { SETTINGS } from './args.ts';
import { MODES } from './requests.ts';
import { pairedSaturationRatio, roundsSummary } from './rounds.ts';
import { type MemorySample, state } from './state.ts';
import { int, percent, signed } from './table.ts';

/** The targets. */
export const TARGETS = {
  addedP99Ms: 2,
  throughputShareOfProxy: 0.6,
  memoryGrowthSecondHalf: 0.1,
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

/** Summarizes the memory phase's RSS samples; undefined without at least two. */
export function memoryReport(): MemoryReport | undefined {
  const memorySamples = state.memorySamples;
  if (memorySamples.length < 2) return undefined;
  const first = memorySamples[0]!;
  const last = memorySamples.at(-1)!;
  const midTime = (first.tSec + last.tSec) / 2;
  let mid = first;
  for (const s of memorySamples) if (Math.abs(s.tSec - midTime) < Math.abs(mid.tSec - midTime)) mid = s;
  const report: MemoryReport = {
    samples: memorySamples,
    startBytes: first.rssBytes,
    endBytes: last.rssBytes,
    maxBytes: Math.max(...memorySamples.map((s) => s.rssBytes)),
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

export function targetChecks(memory: MemoryReport | undefined): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const directFixed = roundsSummary('direct', 'non-streaming');
  const gatewayFixed = roundsSummary('gateway', 'non-streaming');
  if (directFixed && gatewayFixed) {
    // Median p99 across the interleaved rounds, gateway minus direct.
    const added = gatewayFixed.p99 - directFixed.p99;
    const rounds = Math.min(directFixed.rounds, gatewayFixed.rounds);
    checks.push({
      name:
        `gateway adds < ${TARGETS.addedP99Ms} ms at p99 (${int(SETTINGS.fixedRate)} req/s, non-streaming; ` +
        `median of ${rounds} round${rounds === 1 ? '' : 's'})`,
      measured: `${signed(added, 2)} ms`,
      pass: added < TARGETS.addedP99Ms,
    });
  }
  for (const mode of MODES) {
    // Gateway over proxy within each round, then the median across rounds.
    const share = pairedSaturationRatio(mode, 'gateway', 'proxy');
    if (!share) continue;
    const n = share.perRound.length;
    checks.push({
      name: `gateway throughput >= ${percent(TARGETS.throughputShareOfProxy)} of bare proxy (${mode}; median of ${n} round${n === 1 ? '' : 's'})`,
      measured: percent(share.median, 1),
      pass: share.median >= TARGETS.throughputShareOfProxy,
    });
  }
  if (memory) {
    // The live heap after a full GC is the leak check; RSS also grows when V8 enlarges the heap it
    // keeps. Without live-heap samples (the probe did not answer), RSS is all there is.
    const growth = memory.liveHeap?.secondHalfGrowth ?? memory.secondHalfGrowth;
    const what = memory.liveHeap ? 'live heap after full GC' : 'RSS';
    checks.push({
      name: `gateway memory flat over ${SETTINGS.memorySec} s (${what}, second-half growth < ${percent(TARGETS.memoryGrowthSecondHalf)})`,
      measured: `${signed(growth * 100, 1)}%`,
      pass: growth < TARGETS.memoryGrowthSecondHalf,
    });
  }
  return checks;
}

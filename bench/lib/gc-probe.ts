/**
 * Preloaded into each gateway by the benchmark (node --import): counts the process's garbage
 * collections (a PerformanceObserver on `gc` entries: young-generation scavenges and full
 * mark-compacts, with their pause times) and writes the running totals as JSON to
 * $SWITCHYARD_BENCH_GC_STATS at most every GC_STATS_WRITE_EVERY_MS (250 ms) after a collection,
 * never when idle. The benchmark reads the file around each run, waiting GC_STATS_SETTLE_MS after
 * a run's load so that the run's last collections are in it.
 *
 * Not after every batch of GC entries, as until 2026-12-07: those synchronous file writes showed
 * as 0.8-2.1% of the gateway's time in two profiles at saturation (`writeFileUtf8`), a cost the
 * bare proxy does not carry; every 100 ms 0.58%, every 250 ms 0.35% (`node bench/run.ts --quick
 * --scenarios plain --profile`).
 *
 * Why: the gateway's cost per request at saturation depends on how much of each request's garbage
 * survives a scavenge. When V8 promotes much of it (seen on this build: ~12 MB per scavenge, 17-38 ms
 * pauses instead of 2-4 ms, and more CPU per request; see docs/benchmarks.md), only the GC figures
 * show why.
 */

import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { GC_STATS_WRITE_EVERY_MS } from './constants.ts';

export interface GcTotals {
  scavenges: number;
  scavengeMs: number;
  /** Mark-compacts (and incremental marking steps counted as major). */
  majors: number;
  majorMs: number;
  /** When written (epoch ms). */
  atMs: number;
}

const file = process.env.SWITCHYARD_BENCH_GC_STATS;
if (file) {
  const totals: GcTotals = { scavenges: 0, scavengeMs: 0, majors: 0, majorMs: 0, atMs: Date.now() };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // GC entries carry their kind in `detail` (NodeGCPerformanceDetail).
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        totals.scavenges++;
        totals.scavengeMs += entry.duration;
      } else if (
        kind === constants.NODE_PERFORMANCE_GC_MAJOR ||
        kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL
      ) {
        totals.majors++;
        totals.majorMs += entry.duration;
      }
    }
    if (pending === undefined) pending = setTimeout(write, GC_STATS_WRITE_EVERY_MS).unref();
  }).observe({ entryTypes: ['gc'] });
  let pending: NodeJS.Timeout | undefined;
  function write(): void {
    pending = undefined;
    totals.atMs = Date.now();
    writeFileSync(file!, JSON.stringify(totals));
  }
  write();
}

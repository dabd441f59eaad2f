/**
 * Preloaded into each gateway by the benchmark (node --import): counts the process's garbage
 * collections (a PerformanceObserver on `gc` entries: young-generation scavenges and full
 * mark-compacts, with their pause times) and writes the running totals as JSON to
 * $SWITCHYARD_BENCH_GC_STATS after each batch of collections (a few times a second under load,
 * never when idle). The benchmark reads the file around each run.
 *
 * Why: the gateway's cost per request at saturation depends on how much of each request's garbage
 * survives a scavenge. When V8 promotes much of it (seen on this build: ~12 MB per scavenge, 17-38 ms
 * pauses instead of 2-4 ms, and more CPU per request; see docs/benchmarks.md), only the GC figures
 * show why.
 */

import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';

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
    write();
  }).observe({ entryTypes: ['gc'] });
  function write(): void {
    totals.atMs = Date.now();
    writeFileSync(file!, JSON.stringify(totals));
  }
  write();
}

/**
 * Preloaded into the gateway by `bench/run.ts --alloc-profile` (node --import): samples every
 * allocation the process makes, including objects the GC has since collected (node --heap-prof
 * keeps only live ones, which hides short-lived garbage, the thing that drives GC pauses), and
 * writes the sampling profile to $SWITCHYARD_BENCH_ALLOC_PROFILE when SIGTERM or SIGINT arrives.
 * The in-thread inspector session answers synchronously, so this finishes before the gateway's
 * own signal handler starts draining.
 */

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.SWITCHYARD_BENCH_ALLOC_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 16 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  let written = false;
  const dump = () => {
    if (written) return;
    written = true;
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err) process.stderr.write(`alloc-sampler: ${err.message}\n`);
      else writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
    });
  };
  process.prependListener('SIGTERM', dump);
  process.prependListener('SIGINT', dump);
}

/**
 * Preloaded into the gateway by the benchmark (node --import) for the memory phase's leak check:
 * on SIGUSR2 it runs a full garbage collection and appends the live heap (bytes in use after it) as
 * one line to $SWITCHYARD_BENCH_HEAP_PROBE. RSS alone cannot tell a leak from V8 growing the heap it
 * keeps; the live heap after a full GC can. Idle until the first signal.
 */

import { appendFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapStatistics } from 'node:v8';

const file = process.env.SWITCHYARD_BENCH_HEAP_PROBE;
if (file) {
  let session: Session | undefined;
  process.on('SIGUSR2', () => {
    if (!session) {
      session = new Session();
      session.connect();
    }
    // The in-thread session runs the collection synchronously, before this callback.
    session.post('HeapProfiler.collectGarbage', () => {
      appendFileSync(file, `${getHeapStatistics().used_heap_size}\n`);
    });
  });
}

import v8 from 'node:v8';

/** The node flag that keeps V8's default; given on the command line, the gateway leaves it be. */
export const KEEP_PRETENURING_FLAG = '--allocation-site-pretenuring';
const NO_PRETENURING_FLAG = '--no-allocation-site-pretenuring';

/**
 * Turns off V8's allocation-site pretenuring for a gateway process, unless `node
 * --allocation-site-pretenuring` asked to keep it. Why: at the gateway's request rate, pretenuring
 * sometimes (7 of 14 starts measured) decides during warm-up that a per-request object lives long
 * (one allocation site, every object of it found alive at the next scavenge), allocates it in the
 * old generation from then on and never goes back, since objects allocated there no longer report
 * whether they die young. Every young object such an object points to then survives each
 * scavenge until the next mark-compact: scavenges pause 13-19 ms instead of 2-5 ms for the life of
 * the process, and p99 at 1,000 req/s rises by about as much (docs/benchmarks.md, "GC modes").
 * Without pretenuring, 10 of 10 starts kept 3-4 ms scavenges. Returns the flags it set.
 */
export function tuneGarbageCollector(
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = v8.setFlagsFromString,
): string[] {
  if (execArgv.includes(KEEP_PRETENURING_FLAG)) return [];
  // Read by V8 at every young-generation GC, so setting it at run time takes effect from the next.
  setFlags(NO_PRETENURING_FLAG);
  return [NO_PRETENURING_FLAG];
}

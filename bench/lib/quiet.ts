/**
 * `--wait-quiet SEC`: on a machine shared with other work (test suites, other benchmarks), wait
 * before each measured run until processes outside the benchmark have used at most NOISE_CORES for
 * one second, up to SEC seconds; then run anyway (the run is flagged by its "other cores" as
 * before). The benchmark's own idle servers and Redis count as ours.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { NOISE_CORES, SETTINGS } from './args.ts';
import { readCpuMs, readSystemBusyMs } from './processes.ts';
import { log, state } from './state.ts';
import { fixed } from './table.ts';

/** What the waits cost over the run. */
export const quietStats = { waits: 0, waitedSec: 0, gaveUp: 0 };

function ourCpuMs(): number {
  const pids = [process.pid, ...Object.values(state.services).map((s) => s.pid)];
  if (state.redisPid !== undefined) pids.push(state.redisPid);
  return pids.reduce((sum, pid) => sum + (readCpuMs(pid) ?? 0), 0);
}

/** Cores used by other processes over the next second; undefined where /proc is unreadable. */
async function otherCoresNow(): Promise<number | undefined> {
  const systemBefore = readSystemBusyMs();
  const oursBefore = ourCpuMs();
  await sleep(1000);
  const systemAfter = readSystemBusyMs();
  if (systemBefore === undefined || systemAfter === undefined) return undefined;
  return Math.max(0, (systemAfter - systemBefore - (ourCpuMs() - oursBefore)) / 1000);
}

/** Waits for a quiet second (at most SETTINGS.waitQuietSec); returns the seconds waited. */
export async function waitForQuiet(): Promise<number> {
  if (SETTINGS.waitQuietSec <= 0) return 0;
  const started = performance.now();
  let other = await otherCoresNow();
  while (other !== undefined && other > NOISE_CORES) {
    const waited = (performance.now() - started) / 1000;
    if (waited >= SETTINGS.waitQuietSec) {
      quietStats.gaveUp++;
      log(
        `  (other processes still use ${fixed(other, 2)} cores after ${fixed(waited, 0)} s: running anyway)`,
      );
      break;
    }
    other = await otherCoresNow();
  }
  // The one-second probe itself is not counted as waiting.
  const waitedSec = Math.max(0, (performance.now() - started) / 1000 - 1);
  if (waitedSec > 0.5) {
    quietStats.waits++;
    quietStats.waitedSec += waitedSec;
  }
  return waitedSec;
}

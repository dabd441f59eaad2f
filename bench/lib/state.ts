/**
 * What a benchmark run has recorded so far, shared by the phases, the report and the JSON output:
 * every load run, the running servers, the memory samples and the first failure.
 */

import type { LoadResult } from './load.ts';
import type { Service } from './processes.ts';
import type { Mode, TargetName } from './requests.ts';

export type ServerName = 'upstream' | 'proxy' | 'gateway';

export interface RunRecord {
  phase: 'warm-up' | 'saturation' | 'fixed-rate' | 'memory';
  target: TargetName;
  mode: Mode | 'mixed';
  connections: number;
  durationSec: number;
  /** Fixed-rate runs: the requested rate. */
  rate?: number;
  /** Saturation and fixed-rate phases (their warm-ups included): the round, from 1. */
  round?: number;
  load: LoadResult;
  /** CPU each server used during the run, microseconds per completed request. */
  cpuUsPerRequest: Partial<Record<ServerName, number>>;
  /** CPU each server used during the run, in cores (1 = one core busy all the time). */
  cpuCores: Partial<Record<ServerName, number>>;
  /**
   * Cores used by processes other than the benchmark's own (machine busy time minus the loader
   * and the three servers), averaged over the run: above ~0.2 the run was disturbed.
   */
  otherCores: number | undefined;
  /**
   * CPU the host took from this virtual machine during the run, in cores (/proc/stat steal): while
   * it is above zero, every process here waits at random moments, and latency tails are the host's.
   */
  stealCores: number | undefined;
}

export interface MemorySample {
  tSec: number;
  rssBytes: number;
  /** Heap in use right after a full GC (the leak signal); absent when the probe did not answer. */
  liveHeapBytes?: number;
}

export const state: {
  records: RunRecord[];
  services: Partial<Record<ServerName, Service>>;
  memorySamples: MemorySample[];
  /** The first thing that went wrong: set once, the run then stops with exit code 1. */
  failure: string | undefined;
} = {
  records: [],
  services: {},
  memorySamples: [],
  failure: undefined,
};

export function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A failure with a message meant for the user (no stack trace). */
export class BenchError extends Error {}

export function checkFailure(): void {
  if (state.failure) throw new BenchError(state.failure);
}

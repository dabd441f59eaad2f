/**
 * What a benchmark run has recorded so far, shared by the phases, the report and the JSON output:
 * every load run, the running servers, the memory samples and the first failure.
 */

import type { AdmissionResult } from './admission-result.ts';
import type { LoadResult } from './load.ts';
import type { GatewayCounters } from './metrics-scrape.ts';
import type { Service } from './processes.ts';
import type { Mode, TargetName } from './requests.ts';
import type { ScenarioName } from './scenarios.ts';

/** The processes started by the run: the upstream, the bare proxy, and one gateway per scenario. */
export type ServerName = 'upstream' | 'proxy' | ScenarioName;
/** The processes whose CPU each run reads: ours, and the Redis server when limits-redis runs. */
export type CpuName = ServerName | 'redis';

/** The request log's counters around one run (gateways with a request log): from /metrics. */
export interface RequestLogDelta {
  /** Records the store acknowledged during the run. */
  written: number;
  dropped: number;
  /** Records accepted into the queue during the run (written + change of queued + dropped). */
  enqueued: number;
  /** Records waiting or being written when the run ended. */
  queuedAtEnd: number;
  /** Written per second of the run. */
  writtenPerSec: number;
}

/** A gateway's garbage collections during one run. */
export interface GcDelta {
  scavenges: number;
  /** Mean pause of a scavenge (ms): 1-4 ms normally, 15-30 ms when most of each request is promoted. */
  scavengeMeanMs: number;
  majors: number;
  /** All GC pause time per request (µs). */
  gcUsPerRequest: number;
}

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
  cpuUsPerRequest: Partial<Record<CpuName, number>>;
  /** CPU each server used during the run, in cores (1 = one core busy all the time). */
  cpuCores: Partial<Record<CpuName, number>>;
  /**
   * Cores used by processes other than the benchmark's own (machine busy time minus the loader
   * and the servers), averaged over the run: above ~0.2 the run was disturbed.
   */
  otherCores: number | undefined;
  /**
   * CPU the host took from this virtual machine during the run, in cores (/proc/stat steal): while
   * it is above zero, every process here waits at random moments, and latency tails are the host's.
   */
  stealCores: number | undefined;
  /** Gateways with a request log: what it wrote during the run. */
  requestLog?: RequestLogDelta;
  /** Gateways: their garbage collections during the run (gc-probe.ts). */
  gc?: GcDelta;
  /** Gateways scraped during their runs: how many scrapes, and the slowest (ms). */
  scrapes?: { count: number; maxMs: number };
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
  /**
   * The Redis server's pid when limits-redis runs and Redis is on this machine: its CPU is part of
   * that gateway's cost (and would otherwise count as another process's noise).
   */
  redisPid: number | undefined;
  /** `git describe` of the checkout when the run started (others may commit meanwhile). */
  git: string;
  /** When dist/ (the gateway that runs) was built, and whether src/ has changed since. */
  build: { distBuiltAt: string; olderThanSrc: boolean } | undefined;
  /** The memory phase's samples, per gateway. */
  memorySamples: Partial<Record<ScenarioName, MemorySample[]>>;
  /** Each gateway's counters from /metrics when the load phases began and after the last run. */
  counters: Partial<Record<ScenarioName, { first: GatewayCounters; last?: GatewayCounters }>>;
  /** bench/limits.ts's figures (the cost of admission and settlement), when it ran. */
  admission: AdmissionResult | undefined;
  /** Why bench/limits.ts did not give figures. */
  admissionFailure: string | undefined;
  /** The first thing that went wrong: set once, the run then stops with exit code 1. */
  failure: string | undefined;
} = {
  records: [],
  services: {},
  redisPid: undefined,
  git: 'unknown',
  build: undefined,
  memorySamples: {},
  counters: {},
  admission: undefined,
  admissionFailure: undefined,
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

/**
 * What `bench/limits.ts` measures (the cost of admission and settlement themselves), shared with
 * `bench/run.ts`, which runs it as a child process and folds the figures into its report and targets.
 */

import type { LatencySummary } from './load.ts';
import { fixed, int, table } from './table.ts';

export type LimitStoreKind = 'memory' | 'redis';

/** The limits layer's own targets (issue 10): p50 of admission plus settlement, per request. */
export const ADMISSION_TARGET_P50_MS: Record<LimitStoreKind, number> = { memory: 0.2, redis: 1 };

export interface AdmissionSeries {
  store: LimitStoreKind;
  /**
   * `sequential`: one request at a time (the cost of one request); `concurrent`: `concurrency`
   * requests always in flight (closed loop: as fast as the store answers, so latency includes
   * queueing); `paced`: `rate` requests per second started on schedule whatever is in flight (open
   * loop, like the benchmark's fixed-rate runs).
   */
  mode: 'sequential' | 'concurrent' | 'paced';
  concurrency: number;
  rate?: number;
  requests: number;
  /** Admission + settlement of one request, back to back (the figure the target is checked on). */
  both: LatencySummary;
  admit: LatencySummary;
  settle: LatencySummary;
  /** Requests admitted and settled per second of wall time. */
  perSecond: number;
  /** CPU of the benchmark process per request (µs): the gateway spends this on every request. */
  cpuUsPerRequest: number;
}

export interface AdmissionResult {
  date: string;
  node: string;
  /** A store that could not be measured, and why (Redis not reachable). */
  skipped: Partial<Record<LimitStoreKind, string>>;
  series: AdmissionSeries[];
}

function describeMode(s: AdmissionSeries): string {
  if (s.mode === 'paced') return `paced ${int(s.rate ?? Number.NaN)}/s`;
  return s.mode === 'sequential' ? 'sequential' : `${s.concurrency} in flight`;
}

export function admissionTable(series: readonly AdmissionSeries[]): string {
  return table(
    [
      'store, mode',
      'requests',
      'admit+settle p50',
      'p99',
      'admit p50',
      'p99',
      'settle p50',
      'p99',
      'req/s',
      'CPU µs/req',
    ],
    series.map((s) => [
      `${s.store}, ${describeMode(s)}`,
      int(s.requests),
      fixed(s.both.p50, 3),
      fixed(s.both.p99, 3),
      fixed(s.admit.p50, 3),
      fixed(s.admit.p99, 3),
      fixed(s.settle.p50, 3),
      fixed(s.settle.p99, 3),
      int(s.perSecond),
      fixed(s.cpuUsPerRequest, 1),
    ]),
  );
}

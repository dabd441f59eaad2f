/**
 * The load generator: autocannon's programmatic API, typed here (it ships no types), plus two
 * things autocannon does not do well enough for this benchmark:
 *
 * - Sub-millisecond latency. autocannon's latency histogram has 1 ms resolution (values are
 *   truncated to whole milliseconds), too coarse to check "adds < 2 ms". We record every
 *   response's exact time (autocannon's own hrtime measure, from writing the request to the end
 *   of the response) from its `response` event and compute percentiles from those.
 * - A smooth fixed rate. autocannon's `overallRate` is a per-connection budget refilled once a
 *   second: each connection fires its whole share back-to-back at the top of every second and
 *   then idles, so "1,000 req/s" is really bursts at saturation, and latency measures the burst
 *   queue, not the gateway. Paced mode (`rate`) instead spaces each connection's requests evenly
 *   (connection i sends at t0 + i·Δ/C + k·Δ, Δ = C/rate) by wrapping autocannon's per-client
 *   request function from its `setupClient` hook. A request whose slot comes while its
 *   connection is still busy goes out as soon as the connection frees (counted as `late`).
 */

import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** The parts of autocannon's per-connection client that paced mode touches (lib/httpClient.js). */
interface AutocannonClient {
  _doRequest(): void;
  destroyed: boolean;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  pipelining: number;
  /** Seconds. */
  duration: number;
  /** Seconds before a request counts as timed out. */
  timeout: number;
  requests: AutocannonRequest[];
  setupClient?: (client: AutocannonClient) => void;
  verifyBody?: (body: string) => boolean;
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  statusCodeStats: Record<string, { count: number }>;
  requests: { average: number; total: number; sent: number };
}

interface AutocannonInstance extends EventEmitter, PromiseLike<AutocannonResult> {
  stop(): void;
}

type Autocannon = (options: AutocannonOptions) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadOptions {
  url: string;
  /** The requests to send, in a cycle (each connection walks the list). */
  requests: AutocannonRequest[];
  connections: number;
  durationSec: number;
  /** Paced mode: total requests per second over all connections. Absent: as fast as possible. */
  rate?: number;
  /** Returns true when a 2xx body is what the request should have produced. */
  verifyBody: (body: string) => boolean;
  /** Called with each 2xx response's latency (ms) as it arrives: for diagnosis scripts. */
  onResponse?: (latencyMs: number) => void;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  /** Wall time of the run, seconds. */
  elapsedSec: number;
  /** 2xx responses completed. */
  ok: number;
  /** 2xx responses per second of wall time. */
  rps: number;
  /** Latency of 2xx responses in milliseconds (request written → last byte of the response). */
  latencyMs: LatencySummary;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx responses whose body failed the check. */
  mismatches: number;
  statusCodes: Record<string, number>;
  /** First few error messages and bad bodies, for the report. */
  samples: string[];
  /** Paced mode: requests sent more than half an interval after their slot. */
  late: number;
  /** CPU milliseconds the load generator (this process) used. */
  loaderCpuMs: number;
}

/** Percentiles by the nearest-rank method over exact values. */
export function summarize(values: Float64Array): LatencySummary {
  const count = values.length;
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const sorted = values.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const at = (q: number) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))]!;
  return {
    count,
    mean: sum / count,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[count - 1]!,
  };
}

/** A growable list of doubles, cheap enough to append to on every response. */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** The currently running instance, so Ctrl-C can stop it. */
let current: AutocannonInstance | undefined;

export function stopCurrentLoad(): void {
  current?.stop();
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new Samples();
  const samples: string[] = [];
  const note = (text: string) => {
    if (samples.length < 5) samples.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);
  };
  let late = 0;

  let setupClient: ((client: AutocannonClient) => void) | undefined;
  if (options.rate !== undefined) {
    const intervalMs = (1000 * options.connections) / options.rate;
    const startAt = performance.now() + 50;
    let index = 0;
    setupClient = (client) => {
      const send = client._doRequest;
      let slot = startAt + (index++ * intervalMs) / options.connections;
      client._doRequest = () => {
        const now = performance.now();
        const due = slot;
        slot += intervalMs;
        if (due <= now) {
          if (now - due > intervalMs / 2) late++;
          send.call(client);
        } else {
          setTimeout(() => {
            if (!client.destroyed) send.call(client);
          }, due - now);
        }
      };
    };
  }

  const verify = options.verifyBody;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSec,
    timeout: 10,
    requests: options.requests,
    ...(setupClient ? { setupClient } : {}),
    verifyBody: (body) => {
      const good = verify(body);
      if (!good) note(`unexpected body: ${body}`);
      return good;
    },
  });
  current = instance;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      latencies.push(responseTime);
      options.onResponse?.(responseTime);
    } else note(`HTTP ${statusCode}`);
  });
  instance.on('reqError', (err: Error) => note(`error: ${err.message}`));
  let result: AutocannonResult;
  try {
    result = await instance;
  } finally {
    current = undefined;
  }
  const elapsedSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);

  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  const ok = latencies.length;
  return {
    elapsedSec,
    ok,
    rps: ok / elapsedSec,
    latencyMs: summarize(latencies.values()),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    samples,
    late,
    loaderCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

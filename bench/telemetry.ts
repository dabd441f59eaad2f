/**
 * Per-request cost of the telemetry calls on the request path, in one process, no network:
 *   node bench/telemetry.ts [--requests 200000]
 * observeRequest (metrics), and a request's tracing calls with tracing off (the no-op) and on
 * (spans created and handed to the batch processor; the exporter discards them, so the figure
 * excludes the OTLP serialisation that runs later, off the request path).
 */
import { parseArgs } from 'node:util';
import { ExportResultCode } from '@opentelemetry/core';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { GatewayMetrics } from '../src/telemetry/metrics.ts';
import type { RequestRecord } from '../src/telemetry/record.ts';
import { NO_TRACING, OtelTracing, type Tracing } from '../src/telemetry/tracing.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '200000' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = 5;

const served: RequestRecord = {
  id: 'req-1',
  startedAtMs: Date.now(),
  operation: 'chat',
  keyId: 'static:app',
  keyName: 'app',
  team: null,
  model: 'gpt-5',
  stream: true,
  status: 200,
  errorCode: null,
  provider: 'azure-eastus',
  deployment: 'gpt-5-prod',
  latencyMs: 1234,
  ttftMs: 321,
  inputTokens: 100,
  outputTokens: 200,
  cachedTokens: 0,
  cacheWriteTokens: null,
  reasoningTokens: null,
  costUsd: 0.0021,
  boundary: null,
  capacity: null,
  attempts: [
    { provider: 'azure-eastus', deployment: 'gpt-5-prod', outcome: 'ok', status: 200, latencyMs: 1200 },
  ],
};
const failover: RequestRecord = {
  ...served,
  provider: 'openai',
  deployment: 'gpt-5',
  attempts: [
    { provider: 'bedrock', deployment: 'gpt-oss', outcome: 'skipped', latencyMs: 0, kind: 'capacity' },
    {
      provider: 'azure-eastus',
      deployment: 'gpt-5-prod',
      outcome: 'failed',
      status: 503,
      latencyMs: 80,
      kind: 'server',
    },
    { provider: 'openai', deployment: 'gpt-5', outcome: 'ok', status: 200, latencyMs: 1100 },
  ],
};

/** Nanoseconds per call, median of ROUNDS rounds after one warm-up round. */
function measure(name: string, perRequest: (i: number) => void): void {
  const rounds: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i++) perRequest(i);
    const ns = Number(process.hrtime.bigint() - start) / REQUESTS;
    if (r > 0) rounds.push(ns);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)] ?? Number.NaN;
  console.log(`${name.padEnd(52)} ${(median / 1000).toFixed(2).padStart(7)} µs/request`);
}

function traceOneRequest(tracing: Tracing, traceparent: string | undefined, i: number): void {
  const now = served.startedAtMs;
  const request = tracing.startRequest({
    id: `r${i}`,
    operation: 'chat',
    model: 'gpt-5',
    traceparent,
    startMs: now,
  });
  const attempt = request.startAttempt({
    provider: 'azure-eastus',
    providerType: 'azure-openai',
    deployment: 'gpt-5-prod',
    startMs: now,
    hedge: false,
  });
  attempt.end({
    outcome: 'ok',
    status: 200,
    responseModel: 'gpt-5',
    inputTokens: 100,
    outputTokens: 200,
    endMs: now + 1200,
  });
  request.end(served);
}

const discard: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};

const models = new Set(['gpt-5']);
const metrics = new GatewayMetrics({
  isConfiguredModel: (model) => models.has(model),
  inFlight: () => 0,
  deployments: () => [],
  requestLog: () => ({ queued: 0, dropped: 0, written: 0, failedFlushes: 0 }),
});
const clientTraceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

console.log(`${REQUESTS} requests per round, median of ${ROUNDS} rounds, Node ${process.version}`);
measure('metrics.observeRequest (served, 1 attempt)', () => metrics.observeRequest(served));
measure('metrics.observeRequest (failover, 3 attempts)', () => metrics.observeRequest(failover));
measure('tracing off, no client traceparent', (i) => traceOneRequest(NO_TRACING, undefined, i));
measure('tracing off, client traceparent passed through', (i) =>
  traceOneRequest(NO_TRACING, clientTraceparent, i),
);
const on = new OtelTracing(discard, 'bench');
measure('tracing on (2 spans, exporter discards)', (i) => traceOneRequest(on, clientTraceparent, i));
await on.shutdown();
const scrapeStart = process.hrtime.bigint();
const { body } = await metrics.render();
console.log(
  `metrics.render: ${(Number(process.hrtime.bigint() - scrapeStart) / 1e6).toFixed(2)} ms, ${body.length} bytes`,
);

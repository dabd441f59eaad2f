/**
 * Watching the routing engine: GET /metrics after a failover, a circuit trip, a hedge and a
 * stream shows the documented series with the right labels and counts (and never a key); traces
 * exported over OTLP join the client's trace, one attempt span per upstream attempt, and each
 * upstream received its own attempt span as traceparent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { send } from '../helpers/raw.ts';
import { type ReceivedSpan, startOtlpReceiver } from '../telemetry/otlp-receiver.ts';
import {
  CLIENT_KEY,
  CLIENT_KEY_NAME,
  chat,
  cloudProvider,
  deployment,
  explain,
  gatewayYaml,
  recordOf,
  requestRecords,
  startClouds,
  startRig,
  UPSTREAM_MODEL,
} from './harness.ts';

type Labels = Record<string, string>;
interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Prometheus text format, samples only (HELP and TYPE lines skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Labels = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every series of `name` whose labels include `labels`; undefined when none matches. */
function metric(samples: Sample[], name: string, labels: Labels = {}): number | undefined {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

const OBSERVED_ROUTING = `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 15000 }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 }
  circuitBreaker: { failureThreshold: 2, cooldownMs: 60000 }`;

describe('GET /metrics', () => {
  test('after a failover, a circuit trip, a hedge and a stream: the documented series, labels and counts, and never a key', async () => {
    const clouds = await startClouds(['primary', 'secondary', 'laggard']);
    const [primary, , laggard] = clouds as [(typeof clouds)[0], (typeof clouds)[0], (typeof clouds)[0]];
    primary.sim.addFaults([{ kind: 'status', status: 500, times: 2 }]);
    laggard.sim.addFaults([{ kind: 'delay', ms: 1500 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        routing: OBSERVED_ROUTING,
        models: `  - name: m
    deployments:
${deployment('primary', 'priority: 1')}
${deployment('secondary', 'priority: 2')}
  - name: h
    hedge: { afterMs: 150 }
    deployments:
${deployment('laggard', 'priority: 1')}
${deployment('secondary', 'priority: 2')}`,
      }),
    );
    try {
      // 1, 2: the primary fails (500) and the secondary serves; the second failure opens the circuit.
      // 3: the primary is skipped (circuit open). 4: a stream, skipped the same way. 5: a hedge wins.
      const results = [
        await chat(rig.url, 'one'),
        await chat(rig.url, 'two'),
        await chat(rig.url, 'three'),
        await chat(rig.url, 'four', { stream: true }),
        await chat(rig.url, 'hedged', { model: 'h' }),
      ];
      for (const r of results) {
        assert.equal(r.status, 200, r.body);
        assert.equal(r.provider, 'secondary');
      }
      const unknown = await send(
        rig.url,
        '/v1/chat/completions',
        JSON.stringify({ model: 'no-such-model-7f3a', messages: [{ role: 'user', content: 'x' }] }),
        { authorization: `Bearer ${CLIENT_KEY}` },
      );
      assert.equal('status' in unknown ? unknown.status : 0, 404);

      const scraped = await send(rig.url, '/metrics', undefined, {}, 'GET');
      assert.ok('status' in scraped && scraped.status === 200);
      assert.match(String(scraped.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const text = scraped.body;
      for (const secret of [CLIENT_KEY, CLIENT_KEY_NAME, 'static:', 'no-such-model-7f3a']) {
        assert.ok(!text.includes(secret), `/metrics shows ${secret}`);
      }
      const s = parseMetrics(text);
      const route = { model: 'm', provider: 'secondary', deployment: UPSTREAM_MODEL };
      assert.equal(
        metric(s, 'switchyard_requests_total', { ...route, status_class: '2xx', error_code: '' }),
        4,
      );
      assert.equal(
        metric(s, 'switchyard_requests_total', { model: 'h', provider: 'secondary', status_class: '2xx' }),
        1,
      );
      assert.equal(
        metric(s, 'switchyard_requests_total', {
          model: '(unknown)',
          status_class: '4xx',
          error_code: 'model_not_found',
        }),
        1,
      );
      const byStream = (stream: string) => ({ model: 'm', provider: 'secondary', stream });
      assert.equal(metric(s, 'switchyard_request_duration_seconds_count', byStream('false')), 3);
      assert.equal(metric(s, 'switchyard_request_duration_seconds_count', byStream('true')), 1);
      assert.equal(metric(s, 'switchyard_time_to_first_token_seconds_count', byStream('true')), 1);
      assert.equal(
        metric(s, 'switchyard_time_to_first_token_seconds_bucket', { ...byStream('true'), le: '+Inf' }),
        1,
      );

      const attempts = (provider: string, outcome: string, kind: string) =>
        metric(s, 'switchyard_upstream_attempts_total', {
          provider,
          deployment: UPSTREAM_MODEL,
          outcome,
          kind,
        });
      assert.equal(attempts('primary', 'failed', 'server'), 2);
      assert.equal(attempts('primary', 'skipped', 'circuit_open'), 2);
      assert.equal(attempts('secondary', 'ok', ''), 5);
      assert.equal(attempts('laggard', 'aborted', ''), 1);

      // Requests 1-4 were served by the second deployment planned; 1 and 2 after a failed attempt.
      assert.equal(metric(s, 'switchyard_spillovers_total', { model: 'm' }), 4);
      assert.equal(metric(s, 'switchyard_retries_total', { model: 'm' }), 2);
      assert.equal(metric(s, 'switchyard_hedges_started_total', { model: 'h' }), 1);
      assert.equal(metric(s, 'switchyard_hedges_won_total', { model: 'h' }), 1);
      assert.equal(
        metric(s, 'switchyard_spillovers_total', { model: 'h' }) ?? 0,
        0,
        'a hedge is not a spillover',
      );
      assert.equal(metric(s, 'switchyard_retries_total', { model: 'h' }) ?? 0, 0, 'a hedge is not a retry');

      const circuit = (provider: string) =>
        metric(s, 'switchyard_circuit_state', { provider, deployment: UPSTREAM_MODEL });
      assert.equal(circuit('primary'), 2, 'open');
      assert.equal(circuit('secondary'), 0, 'closed');
      assert.equal(metric(s, 'switchyard_deployment_in_flight', { provider: 'secondary' }), 0);
      assert.ok(metric(s, 'switchyard_in_flight_requests') !== undefined);

      // Tokens: what the records say the upstreams reported.
      const records = (await requestRecords(rig.url)).filter((r) => r.model === 'm');
      const output = records.reduce((sum, r) => sum + (r.outputTokens ?? 0), 0);
      const input = records.reduce((sum, r) => sum + (r.inputTokens ?? 0), 0);
      assert.ok(output > 0 && input > 0);
      assert.equal(
        metric(s, 'switchyard_tokens_total', { model: 'm', provider: 'secondary', direction: 'output' }),
        output,
      );
      assert.equal(
        metric(s, 'switchyard_tokens_total', { model: 'm', provider: 'secondary', direction: 'input' }),
        input,
      );

      // Every label value is from the configuration or a fixed set: nothing a client wrote.
      const allowed = new Set(['m', 'h', '(unknown)', 'primary', 'secondary', 'laggard', UPSTREAM_MODEL, '']);
      for (const sample of s) {
        for (const label of ['model', 'provider', 'deployment']) {
          const value = sample.labels[label];
          if (value !== undefined) assert.ok(allowed.has(value), `${sample.name} ${label}="${value}"`);
        }
      }
    } finally {
      await rig.close();
    }
  });
});

describe('switchyard_spillovers_total counts only real spillovers', () => {
  test('lowest-cost: the pricier deployment at its rpm while the cheaper serves is not a spillover', async () => {
    const clouds = await startClouds(['cheap', 'pricey']);
    clouds[0]!.sim.addFaults([{ kind: 'status', status: 500 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    strategy: lowest-cost
    deployments:
${deployment('cheap', 'price: { input: 1, output: 1 }')}
${deployment('pricey', 'price: { input: 9, output: 9 }, rpm: 1')}`,
      }),
    );
    try {
      // 1: the cheaper fails, the pricier serves (a real spillover) and uses up its rpm.
      // 2, 3: the cheaper serves, as the strategy wants; the pricier is out of capacity, unneeded.
      const results = [await chat(rig.url, 'one'), await chat(rig.url, 'two'), await chat(rig.url, 'three')];
      assert.deepEqual(
        results.map((r) => r.provider),
        ['pricey', 'cheap', 'cheap'],
      );
      const record = await recordOf(rig.url, results[1]!);
      assert.deepEqual(
        record.attempts.map((a) => [a.provider, a.outcome]),
        [
          ['cheap', 'ok'],
          ['pricey', 'skipped'],
        ],
        `the record reads in the strategy's order: ${explain(record.attempts)}`,
      );
      const scraped = await send(rig.url, '/metrics', undefined, {}, 'GET');
      const s = parseMetrics('body' in scraped ? scraped.body : '');
      assert.equal(metric(s, 'switchyard_spillovers_total', { model: 'm' }), 1);
    } finally {
      await rig.close();
    }
  });
});

const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

describe('traces over OTLP', () => {
  test("a failover under a client traceparent: a request span in the client's trace, one attempt span per attempt, each upstream got its own span as parent", async () => {
    const receiver = await startOtlpReceiver();
    const clouds = await startClouds(['primary', 'secondary']);
    const [primary, secondary] = clouds as [(typeof clouds)[0], (typeof clouds)[0]];
    primary.sim.addFaults([{ kind: 'status', status: 503 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    deployments:
${deployment('primary', 'priority: 1')}
${deployment('secondary', 'priority: 2')}`,
        extra: `telemetry: { otlpEndpoint: ${receiver.url}, serviceName: routing-e2e }`,
      }),
      [receiver],
    );
    try {
      const r = await chat(rig.url, 'traced', {
        headers: { traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01` },
      });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.provider, 'secondary');
      const record = await recordOf(rig.url, r);
      assert.equal(record.attempts.length, 2, explain(record.attempts));
      await rig.gateway.shutdown(0); // flushes the span exporter
      const spans = await receiver.waitForSpans(3, 2000);
      const requestSpan = spans.find((sp) => sp.kind === 2);
      const attemptSpans = spans.filter((sp) => sp.kind === 3);
      assert.ok(requestSpan, 'a request span');
      assert.equal(attemptSpans.length, 2, 'one attempt span per upstream attempt');
      assert.equal(requestSpan.traceId, CLIENT_TRACE_ID);
      assert.equal(requestSpan.parentSpanId, CLIENT_SPAN_ID);
      assert.equal(requestSpan.name, 'chat m');
      assert.equal(requestSpan.resource['service.name'], 'routing-e2e');
      assert.equal(requestSpan.attributes['gen_ai.request.model'], 'm');
      assert.equal(requestSpan.attributes['gen_ai.operation.name'], 'chat');
      assert.equal(requestSpan.attributes['gen_ai.provider.name'], 'openai');
      assert.equal(requestSpan.attributes['gen_ai.usage.output_tokens'], record.outputTokens);
      assert.equal(requestSpan.attributes['switchyard.request_id'], record.id);

      const byProvider = (id: string): ReceivedSpan => {
        const span = attemptSpans.find((sp) => sp.attributes['switchyard.provider_id'] === id);
        assert.ok(span, `an attempt span for ${id}`);
        return span;
      };
      const failed = byProvider('primary');
      const served = byProvider('secondary');
      for (const span of [failed, served]) {
        assert.equal(span.traceId, CLIENT_TRACE_ID);
        assert.equal(span.parentSpanId, requestSpan.spanId);
        assert.equal(span.attributes['gen_ai.provider.name'], 'openai');
      }
      assert.equal(failed.attributes['switchyard.attempt.outcome'], 'failed');
      assert.equal(failed.attributes['http.response.status_code'], 503);
      assert.equal(failed.status.code, 2);
      assert.equal(served.attributes['switchyard.attempt.outcome'], 'ok');

      // What each upstream received: its own attempt span as parent, in the client's trace.
      const traceparentAt = (cloud: (typeof clouds)[0]) =>
        cloud.sim.requests().find((q) => q.path === '/v1/chat/completions')?.headers.traceparent;
      assert.equal(traceparentAt(primary), `00-${CLIENT_TRACE_ID}-${failed.spanId}-01`);
      assert.equal(traceparentAt(secondary), `00-${CLIENT_TRACE_ID}-${served.spanId}-01`);
    } finally {
      await rig.close();
    }
  });
});

/** Metrics: the Prometheus text rendered from request records, scrape-time gauges and label hygiene. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type DeploymentGaugeView,
  GatewayMetrics,
  type MetricsSources,
  type RequestLogView,
  summarizeAttempts,
  UNKNOWN_MODEL_LABEL,
} from '../../src/telemetry/metrics.ts';
import { attempt, requestRecord } from './records.ts';

const CONFIGURED_MODELS = new Set(['gpt-5', 'embed']);

function sources(overrides: Partial<MetricsSources> = {}): MetricsSources {
  return {
    isConfiguredModel: (model) => CONFIGURED_MODELS.has(model),
    inFlight: () => 0,
    deployments: () => [],
    requestLog: () => ({ queued: 0, dropped: 0, written: 0, failedFlushes: 0 }),
    ...overrides,
  };
}

/** The value of one exact series line (`name{labels}` as prom-client prints it), or undefined. */
function sample(body: string, series: string): number | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function render(metrics: GatewayMetrics): Promise<string> {
  return (await metrics.render()).body;
}

describe('GatewayMetrics.observeRequest', () => {
  it('counts a served request: route, status class, latency and TTFT buckets, tokens, cost', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(requestRecord({ stream: true, latencyMs: 1500, ttftMs: 400 }));
    metrics.observeRequest(requestRecord({ stream: true, latencyMs: 30, ttftMs: 20, costUsd: 0.5 }));
    const { body, contentType } = await metrics.render();

    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const route = 'model="gpt-5",provider="azure-eastus"';
    assert.equal(
      sample(
        body,
        `switchyard_requests_total{${route},deployment="gpt-5-prod",status_class="2xx",error_code=""}`,
      ),
      2,
    );
    const latency = (le: string) =>
      sample(body, `switchyard_request_duration_seconds_bucket{le="${le}",${route},stream="true"}`);
    assert.deepEqual(
      [latency('0.025'), latency('0.05'), latency('1'), latency('2.5'), latency('+Inf')],
      [0, 1, 1, 2, 2],
    );
    assert.equal(sample(body, `switchyard_request_duration_seconds_sum{${route},stream="true"}`), 1.53);
    assert.equal(sample(body, `switchyard_request_duration_seconds_count{${route},stream="true"}`), 2);
    const ttft = (le: string) =>
      sample(body, `switchyard_time_to_first_token_seconds_bucket{le="${le}",${route},stream="true"}`);
    assert.deepEqual([ttft('0.025'), ttft('0.3'), ttft('0.5')], [1, 1, 2]);
    assert.equal(sample(body, `switchyard_tokens_total{${route},direction="input"}`), 200);
    assert.equal(sample(body, `switchyard_tokens_total{${route},direction="output"}`), 100);
    assert.equal(sample(body, `switchyard_tokens_total{${route},direction="cached"}`), 40);
    assert.equal(sample(body, `switchyard_cost_usd_total{${route}}`), 0.75);
    assert.equal(
      sample(
        body,
        `switchyard_upstream_attempts_total{provider="azure-eastus",deployment="gpt-5-prod",outcome="ok",kind=""}`,
      ),
      2,
    );
    // Nothing unusual happened: these stay absent.
    assert.equal(body.includes('switchyard_unpriced_requests_total{'), false);
    assert.equal(body.includes('switchyard_spillovers_total{'), false);
  });

  it('a failed request: 5xx class with its error code, no TTFT, no tokens, not counted as unpriced', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(
      requestRecord({
        status: 503,
        errorCode: 'upstream_unavailable',
        ttftMs: null,
        inputTokens: null,
        outputTokens: null,
        cachedTokens: null,
        costUsd: null,
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'failed', { status: 500, kind: 'server' }),
          attempt('openai', 'gpt-5', 'skipped', { kind: 'circuit_open', reason: 'skipped: circuit open' }),
        ],
      }),
    );
    const body = await render(metrics);
    assert.equal(
      sample(
        body,
        'switchyard_requests_total{model="gpt-5",provider="azure-eastus",deployment="gpt-5-prod",status_class="5xx",error_code="upstream_unavailable"}',
      ),
      1,
    );
    assert.equal(body.includes('switchyard_time_to_first_token_seconds_count{'), false);
    assert.equal(body.includes('switchyard_tokens_total{'), false);
    assert.equal(body.includes('switchyard_unpriced_requests_total{'), false);
    assert.equal(
      sample(
        body,
        'switchyard_upstream_attempts_total{provider="azure-eastus",deployment="gpt-5-prod",outcome="failed",kind="server"}',
      ),
      1,
    );
    assert.equal(
      sample(
        body,
        'switchyard_upstream_attempts_total{provider="openai",deployment="gpt-5",outcome="skipped",kind="circuit_open"}',
      ),
      1,
    );
  });

  it('a request refused before routing has empty provider and deployment labels', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(
      requestRecord({
        status: 429,
        errorCode: 'rate_limit_exceeded',
        provider: null,
        deployment: null,
        costUsd: null,
        attempts: [],
      }),
    );
    const body = await render(metrics);
    assert.equal(
      sample(
        body,
        'switchyard_requests_total{model="gpt-5",provider="",deployment="",status_class="4xx",error_code="rate_limit_exceeded"}',
      ),
      1,
    );
    assert.equal(body.includes('switchyard_unpriced_requests_total{'), false);
  });

  it('a served request without a cost counts as unpriced', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(requestRecord({ costUsd: null }));
    metrics.observeRequest(requestRecord({ costUsd: null }));
    const body = await render(metrics);
    assert.equal(
      sample(
        body,
        'switchyard_unpriced_requests_total{model="gpt-5",provider="azure-eastus",deployment="gpt-5-prod"}',
      ),
      2,
    );
    assert.equal(body.includes('switchyard_cost_usd_total{'), false);
  });

  it('spillovers, retries and hedges from the attempts', async () => {
    const metrics = new GatewayMetrics(sources());
    // Spilled over: the primary was full, the secondary served after one throttled try.
    metrics.observeRequest(
      requestRecord({
        provider: 'openai',
        deployment: 'gpt-5',
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'skipped', { kind: 'capacity' }),
          attempt('openai', 'gpt-5', 'failed', { status: 429, kind: 'throttled' }),
          attempt('openai', 'gpt-5', 'ok'),
        ],
      }),
    );
    // A hedge won against a slow primary.
    metrics.observeRequest(
      requestRecord({
        provider: 'openai',
        deployment: 'gpt-5',
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'aborted'),
          attempt('openai', 'gpt-5', 'ok', { hedge: true }),
        ],
      }),
    );
    const body = await render(metrics);
    assert.equal(sample(body, 'switchyard_spillovers_total{model="gpt-5"}'), 1);
    assert.equal(sample(body, 'switchyard_retries_total{model="gpt-5"}'), 1);
    assert.equal(sample(body, 'switchyard_hedges_started_total{model="gpt-5"}'), 1);
    assert.equal(sample(body, 'switchyard_hedges_won_total{model="gpt-5"}'), 1);
    assert.equal(
      sample(
        body,
        'switchyard_upstream_attempts_total{provider="azure-eastus",deployment="gpt-5-prod",outcome="aborted",kind=""}',
      ),
      1,
    );
  });

  it('counts keep adding up across scrapes', async () => {
    const metrics = new GatewayMetrics(sources());
    const series =
      'switchyard_requests_total{model="gpt-5",provider="azure-eastus",deployment="gpt-5-prod",status_class="2xx",error_code=""}';
    metrics.observeRequest(requestRecord());
    assert.equal(sample(await render(metrics), series), 1);
    assert.equal(sample(await render(metrics), series), 1);
    metrics.observeRequest(requestRecord());
    metrics.observeRequest(requestRecord());
    assert.equal(sample(await render(metrics), series), 3);
  });

  it('a record with a non-number latency or token count neither throws nor breaks the scrape', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(requestRecord({ latencyMs: Number.NaN, inputTokens: Number.NaN, costUsd: -1 }));
    const body = await render(metrics);
    assert.equal(body.includes('switchyard_request_duration_seconds_count{'), false);
    assert.equal(
      sample(body, 'switchyard_tokens_total{model="gpt-5",provider="azure-eastus",direction="output"}'),
      50,
    );
  });

  it('never puts key names, key ids, teams, request ids or reasons in labels', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.observeRequest(
      requestRecord({
        id: 'req-secret-id-123',
        keyId: 'key-id-abc',
        keyName: 'alice-laptop',
        team: 'team-research',
        boundary: 'regions=europe-*',
        requestBody: 'user prompt text',
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'failed', {
            reason: 'throttled: retry-after 2000ms',
            kind: 'throttled',
          }),
          attempt('azure-eastus', 'gpt-5-prod', 'ok'),
        ],
      }),
    );
    const body = await render(metrics);
    for (const secret of [
      'req-secret-id-123',
      'key-id-abc',
      'alice-laptop',
      'team-research',
      'europe',
      'prompt',
      'retry-after',
    ]) {
      assert.equal(body.includes(secret), false, secret);
    }
  });

  it('counts model names the configuration does not have under one (unknown) label', async () => {
    const metrics = new GatewayMetrics(sources());
    for (let i = 0; i < 50; i++) {
      metrics.observeRequest(
        requestRecord({
          model: `client-made-up-${i}`,
          status: 404,
          errorCode: 'model_not_found',
          provider: null,
          deployment: null,
          attempts: [],
        }),
      );
    }
    const body = await render(metrics);
    assert.equal(body.includes('client-made-up'), false);
    assert.equal(
      sample(
        body,
        `switchyard_requests_total{model="${UNKNOWN_MODEL_LABEL}",provider="",deployment="",status_class="4xx",error_code="model_not_found"}`,
      ),
      50,
    );
  });

  it('two instances keep separate registries', async () => {
    const a = new GatewayMetrics(sources());
    const b = new GatewayMetrics(sources());
    a.observeRequest(requestRecord());
    assert.equal((await render(b)).includes('switchyard_requests_total{'), false);
  });
});

describe('GatewayMetrics summarizeAttempts', () => {
  const cases = [
    { name: 'served first time', attempts: [attempt('a', 'x', 'ok')], expected: [false, 0, 0, 0] },
    {
      name: 'retry on the same deployment is not a spillover',
      attempts: [attempt('a', 'x', 'failed'), attempt('a', 'x', 'ok')],
      expected: [false, 1, 0, 0],
    },
    {
      name: 'skipped primary: spillover without retry',
      attempts: [attempt('a', 'x', 'skipped'), attempt('b', 'y', 'ok')],
      expected: [true, 0, 0, 0],
    },
    {
      name: 'failover after two failures',
      attempts: [attempt('a', 'x', 'failed'), attempt('a', 'x', 'failed'), attempt('b', 'y', 'ok')],
      expected: [true, 2, 0, 0],
    },
    {
      name: 'hedge started and lost',
      attempts: [attempt('a', 'x', 'ok'), attempt('b', 'y', 'aborted', { hedge: true })],
      expected: [false, 0, 1, 0],
    },
    {
      name: 'hedge won: not a spillover, not a retry',
      attempts: [attempt('a', 'x', 'aborted'), attempt('b', 'y', 'ok', { hedge: true })],
      expected: [false, 0, 1, 1],
    },
    {
      name: 'all failed',
      attempts: [attempt('a', 'x', 'failed'), attempt('b', 'y', 'failed'), attempt('c', 'z', 'skipped')],
      expected: [false, 1, 0, 0],
    },
    { name: 'no attempts', attempts: [], expected: [false, 0, 0, 0] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = summarizeAttempts(c.attempts);
      assert.deepEqual([s.spillover, s.retries, s.hedgesStarted, s.hedgesWon], c.expected);
    });
  }
});

describe('GatewayMetrics scrape-time gauges and counters', () => {
  it('reads in-flight, deployments and circuit states at each scrape; removed deployments disappear', async () => {
    let inFlight = 3;
    let deployments: DeploymentGaugeView[] = [
      { provider: 'azure-eastus', deployment: 'gpt-5-prod', circuit: 'open', inFlight: 2 },
      { provider: 'openai', deployment: 'gpt-5', circuit: 'half-open', inFlight: 1 },
      { provider: 'vllm', deployment: 'llama', circuit: 'closed', inFlight: 0 },
    ];
    const metrics = new GatewayMetrics(sources({ inFlight: () => inFlight, deployments: () => deployments }));
    let body = await render(metrics);
    assert.equal(sample(body, 'switchyard_in_flight_requests'), 3);
    assert.equal(
      sample(body, 'switchyard_circuit_state{provider="azure-eastus",deployment="gpt-5-prod"}'),
      2,
    );
    assert.equal(sample(body, 'switchyard_circuit_state{provider="openai",deployment="gpt-5"}'), 1);
    assert.equal(sample(body, 'switchyard_circuit_state{provider="vllm",deployment="llama"}'), 0);
    assert.equal(
      sample(body, 'switchyard_deployment_in_flight{provider="azure-eastus",deployment="gpt-5-prod"}'),
      2,
    );
    assert.match(body, /# HELP switchyard_circuit_state .*0 closed, 1 half-open, 2 open/);

    inFlight = 1;
    deployments = [{ provider: 'openai', deployment: 'gpt-5', circuit: 'closed', inFlight: 5 }];
    body = await render(metrics);
    assert.equal(sample(body, 'switchyard_in_flight_requests'), 1);
    assert.equal(sample(body, 'switchyard_circuit_state{provider="openai",deployment="gpt-5"}'), 0);
    assert.equal(sample(body, 'switchyard_deployment_in_flight{provider="openai",deployment="gpt-5"}'), 5);
    assert.equal(
      sample(body, 'switchyard_circuit_state{provider="azure-eastus",deployment="gpt-5-prod"}'),
      undefined,
    );
    assert.equal(
      sample(body, 'switchyard_deployment_in_flight{provider="azure-eastus",deployment="gpt-5-prod"}'),
      undefined,
    );
  });

  it("reports the request log writer's queue and totals", async () => {
    let log: RequestLogView = { queued: 7, dropped: 1, written: 120, failedFlushes: 2 };
    const metrics = new GatewayMetrics(sources({ requestLog: () => log }));
    let body = await render(metrics);
    assert.deepEqual(
      [
        sample(body, 'switchyard_request_log_queue_depth'),
        sample(body, 'switchyard_request_log_dropped_total'),
        sample(body, 'switchyard_request_log_written_total'),
        sample(body, 'switchyard_request_log_failed_flushes_total'),
      ],
      [7, 1, 120, 2],
    );
    assert.match(body, /# TYPE switchyard_request_log_written_total counter/);
    log = { queued: 0, dropped: 1, written: 127, failedFlushes: 2 };
    body = await render(metrics);
    assert.equal(sample(body, 'switchyard_request_log_written_total'), 127);
    assert.equal(sample(body, 'switchyard_request_log_queue_depth'), 0);
  });

  it('counts budget alerts, shared-state errors and limited requests', async () => {
    const metrics = new GatewayMetrics(sources());
    metrics.budgetAlert('team', 80);
    metrics.budgetAlert('team', 80);
    metrics.budgetAlert('key', 100);
    metrics.sharedStateError('rate-limit');
    metrics.rateLimited('key', 'requests');
    metrics.rateLimited('team', 'budget');
    metrics.rateLimited('team', 'budget');
    const body = await render(metrics);
    assert.equal(sample(body, 'switchyard_budget_alerts_total{scope="team",threshold="80"}'), 2);
    assert.equal(sample(body, 'switchyard_budget_alerts_total{scope="key",threshold="100"}'), 1);
    assert.equal(sample(body, 'switchyard_shared_state_errors_total{operation="rate-limit"}'), 1);
    assert.equal(sample(body, 'switchyard_limited_requests_total{scope="key",kind="requests"}'), 1);
    assert.equal(sample(body, 'switchyard_limited_requests_total{scope="team",kind="budget"}'), 2);
  });
});

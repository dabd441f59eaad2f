/** Routing: the attempt planner, deployment health (circuit breaker, throttling) and the retry budget. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingSettings } from '../../src/config/index.ts';
import type { FailureKind, Provider } from '../../src/providers/types.ts';
import { RetryBudget } from '../../src/resilience/retry-budget.ts';
import { type BreakerSettings, HealthTracker } from '../../src/routing/health.ts';
import { planAttempts } from '../../src/routing/plan.ts';
import type { Deployment, DeploymentHealthView, LogicalModel } from '../../src/routing/types.ts';

function stubProvider(id: string): Provider {
  const unused = (): never => {
    throw new Error('not used by routing tests');
  };
  return {
    id,
    type: 'openai-compatible',
    region: 'test',
    tags: [],
    cloudName: 'stub',
    chatCall: unused,
    decodeChat: unused,
    chatStreamDecoder: unused,
    classifyError: unused,
  };
}

function deployment(providerId: string, model: string, priority: number): Deployment {
  return { key: `${providerId}/${model}`, provider: stubProvider(providerId), model, priority, weight: 1 };
}

const ROUTING: RoutingSettings = {
  timeouts: { connectMs: 2000, firstByteMs: 60_000, idleMs: 30_000, totalMs: 600_000 },
  retry: { maxAttempts: 3, budgetPercent: 20, backoffMs: 0 },
  circuitBreaker: {
    failureThreshold: 3,
    failureRatePercent: 100,
    minimumRequests: 1000,
    windowMs: 30_000,
    cooldownMs: 30_000,
  },
};

function model(deployments: Deployment[]): LogicalModel {
  return { name: 'gpt-5', strategy: 'priority', routing: ROUTING, deployments };
}

const HEALTHY: DeploymentHealthView = {
  circuit: 'closed',
  throttledUntilMs: 0,
  inFlight: 0,
  latencyEwmaMs: undefined,
};
const NOW = 1_766_000_000_000;

describe('planAttempts', () => {
  it('orders by priority, lower first, configuration order on ties', () => {
    const d = [
      deployment('bedrock', 'b', 2),
      deployment('azure-east', 'a1', 1),
      deployment('vertex', 'v', 3),
      deployment('azure-west', 'a2', 1),
      deployment('openai', 'o', 0),
    ];
    const plan = planAttempts(model(d), () => HEALTHY, NOW);
    assert.deepEqual(
      plan.attempts.map((x) => x.key),
      ['openai/o', 'azure-east/a1', 'azure-west/a2', 'bedrock/b', 'vertex/v'],
    );
    assert.deepEqual(plan.skipped, []);
  });

  it('skips open circuits and deployments throttled until a time still ahead, saying why', () => {
    const [a, b, c, d, e] = [
      deployment('p', 'open', 1),
      deployment('p', 'half-open', 1),
      deployment('p', 'throttled', 1),
      deployment('p', 'throttle-over', 1),
      deployment('p', 'throttle-ends-now', 1),
    ];
    const views: Record<string, DeploymentHealthView> = {
      'p/open': { ...HEALTHY, circuit: 'open' },
      'p/half-open': { ...HEALTHY, circuit: 'half-open' },
      'p/throttled': { ...HEALTHY, throttledUntilMs: NOW + 5000 },
      'p/throttle-over': { ...HEALTHY, throttledUntilMs: NOW - 1 },
      'p/throttle-ends-now': { ...HEALTHY, throttledUntilMs: NOW },
    };
    const plan = planAttempts(
      model([a, b, c, d, e] as Deployment[]),
      (dep) => views[dep.key] ?? assert.fail(dep.key),
      NOW,
    );
    assert.deepEqual(
      plan.attempts.map((x) => x.key),
      ['p/half-open', 'p/throttle-over', 'p/throttle-ends-now'],
    );
    assert.deepEqual(
      plan.skipped.map((s) => ({ key: s.deployment.key, reason: s.reason, untilMs: s.untilMs })),
      [
        { key: 'p/open', reason: 'circuit_open', untilMs: undefined },
        { key: 'p/throttled', reason: 'throttled', untilMs: NOW + 5000 },
      ],
    );
  });

  it('everything unhealthy: no attempts, every deployment explained', () => {
    const d = [deployment('a', 'x', 1), deployment('b', 'y', 2)];
    const plan = planAttempts(model(d), () => ({ ...HEALTHY, circuit: 'open' }), NOW);
    assert.deepEqual(plan.attempts, []);
    assert.equal(plan.skipped.length, 2);
  });

  it('reads health from a real HealthTracker', () => {
    const health = new HealthTracker();
    const breaker = ROUTING.circuitBreaker;
    const [a, b] = [deployment('azure', 'a', 1), deployment('openai', 'b', 2)];
    health.failed(a.key, 'throttled', breaker, NOW, 2000);
    const view = (dep: Deployment) => health.view(dep.key, breaker, NOW + 1000);
    assert.deepEqual(
      planAttempts(model([a, b]), view, NOW + 1000).attempts.map((x) => x.key),
      ['openai/b'],
    );
    const later = (dep: Deployment) => health.view(dep.key, breaker, NOW + 2000);
    assert.deepEqual(
      planAttempts(model([a, b]), later, NOW + 2000).attempts.map((x) => x.key),
      ['azure/a', 'openai/b'],
    );
  });
});

describe('HealthTracker: circuit breaker', () => {
  const breaker: BreakerSettings = { failureThreshold: 3, cooldownMs: 30_000 };
  const KEY = 'azure-eastus/gpt-5-prod';

  /** One attempt as the attempt loop runs it: begin, failed, end. */
  function failOnce(h: HealthTracker, kind: FailureKind, at: number, retryAfterMs?: number): void {
    const probe = h.begin(KEY);
    h.failed(KEY, kind, breaker, at, retryAfterMs);
    h.end(KEY, probe);
  }

  function succeedOnce(h: HealthTracker, latencyMs = 100): void {
    h.begin(KEY);
    h.succeeded(KEY, latencyMs);
    h.end(KEY);
  }

  it('a new deployment is closed, not throttled, nothing in flight, no latency yet', () => {
    assert.deepEqual(new HealthTracker().view(KEY, breaker, NOW), {
      circuit: 'closed',
      throttledUntilMs: 0,
      inFlight: 0,
      latencyEwmaMs: undefined,
    });
  });

  it('opens after failureThreshold consecutive counted failures, not before', () => {
    const h = new HealthTracker();
    failOnce(h, 'server', NOW);
    failOnce(h, 'timeout', NOW + 1);
    assert.equal(h.view(KEY, breaker, NOW + 2).circuit, 'closed');
    failOnce(h, 'connection', NOW + 2);
    assert.equal(h.view(KEY, breaker, NOW + 3).circuit, 'open');
  });

  it('every health kind counts: server, overloaded, connection, timeout, protocol, auth, not_found', () => {
    for (const kind of [
      'server',
      'overloaded',
      'connection',
      'timeout',
      'protocol',
      'auth',
      'not_found',
    ] as const) {
      const h = new HealthTracker();
      for (let i = 0; i < breaker.failureThreshold; i++) failOnce(h, kind, NOW);
      assert.equal(h.view(KEY, breaker, NOW).circuit, 'open', kind);
    }
  });

  it('a success in between resets the count', () => {
    const h = new HealthTracker();
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    succeedOnce(h);
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
  });

  it('client and content_filter failures never count', () => {
    const h = new HealthTracker();
    for (let i = 0; i < 20; i++) {
      failOnce(h, 'client', NOW);
      failOnce(h, 'content_filter', NOW);
    }
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
  });

  it('throttling does not count (nor reset the count) but sets throttledUntil from retry-after', () => {
    const h = new HealthTracker();
    for (let i = 0; i < 10; i++) failOnce(h, 'throttled', NOW, 6000);
    assert.deepEqual(h.view(KEY, breaker, NOW), {
      circuit: 'closed',
      throttledUntilMs: NOW + 6000,
      inFlight: 0,
      latencyEwmaMs: undefined,
    });
    // Two counted failures, a 429, one more counted failure: three in a row for health.
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    failOnce(h, 'throttled', NOW);
    failOnce(h, 'server', NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'open');
  });

  it('throttledUntil: 1 s without retry-after, and a shorter later retry-after never shortens it', () => {
    const h = new HealthTracker();
    failOnce(h, 'throttled', NOW);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, NOW + 1000);
    failOnce(h, 'throttled', NOW, 60_000);
    failOnce(h, 'throttled', NOW + 1000, 500);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, NOW + 60_000);
  });

  /** Opens the circuit at NOW. */
  function opened(): HealthTracker {
    const h = new HealthTracker();
    for (let i = 0; i < breaker.failureThreshold; i++) failOnce(h, 'server', NOW);
    return h;
  }

  it('half-open after the cooldown, not a millisecond earlier', () => {
    const h = opened();
    assert.equal(h.view(KEY, breaker, NOW + breaker.cooldownMs - 1).circuit, 'open');
    assert.equal(h.view(KEY, breaker, NOW + breaker.cooldownMs).circuit, 'half-open');
  });

  it('half-open lets exactly one probe: while it runs every other view is open', () => {
    const h = opened();
    const t = NOW + breaker.cooldownMs;
    assert.equal(h.view(KEY, breaker, t).circuit, 'half-open');
    h.begin(KEY);
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t + 60_000).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t).inFlight, 1);
  });

  it('a probe that succeeds closes the circuit, and the failure count starts from zero', () => {
    const h = opened();
    const t = NOW + breaker.cooldownMs;
    h.begin(KEY);
    h.succeeded(KEY, 250);
    h.end(KEY);
    assert.equal(h.view(KEY, breaker, t).circuit, 'closed');
    failOnce(h, 'server', t);
    failOnce(h, 'server', t);
    assert.equal(h.view(KEY, breaker, t).circuit, 'closed');
  });

  it('a probe that fails re-opens the circuit for a fresh cooldown', () => {
    const h = opened();
    const t = NOW + breaker.cooldownMs + 5000;
    failOnce(h, 'timeout', t);
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t + breaker.cooldownMs - 1).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t + breaker.cooldownMs).circuit, 'half-open');
  });

  it('a probe answered with a client error gives no verdict: the next caller may probe', () => {
    const h = opened();
    const t = NOW + breaker.cooldownMs;
    failOnce(h, 'client', t);
    assert.equal(h.view(KEY, breaker, t).circuit, 'half-open');
  });

  it('a request that started before the circuit opened and ends during the probe does not let a second probe in', () => {
    const h = new HealthTracker();
    h.begin(KEY); // a long stream, started while healthy
    for (let i = 0; i < breaker.failureThreshold; i++) failOnce(h, 'server', NOW);
    const t = NOW + breaker.cooldownMs;
    h.begin(KEY); // the probe
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
    h.end(KEY); // the old stream finishes; the probe is still running
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
  });

  it('in-flight count and latency EWMA (alpha 0.2)', () => {
    const h = new HealthTracker();
    h.begin(KEY);
    h.begin(KEY);
    assert.equal(h.view(KEY, breaker, NOW).inFlight, 2);
    h.succeeded(KEY, 100);
    h.end(KEY);
    h.succeeded(KEY, 200);
    h.end(KEY);
    h.end(KEY); // an extra end never goes below zero
    const view = h.view(KEY, breaker, NOW);
    assert.equal(view.inFlight, 0);
    assert.equal(view.latencyEwmaMs, 120);
  });

  it('deployments are tracked separately', () => {
    const h = opened();
    assert.equal(h.view('other/model', breaker, NOW).circuit, 'closed');
  });
});

describe('RetryBudget', () => {
  /** A time on a second boundary, so bucket arithmetic in the tests is easy to follow. */
  const T = 1_766_000_000_000;

  function retriesAllowed(budget: RetryBudget, at: number, max = 1000): number {
    let n = 0;
    while (n < max && budget.tryRetry(at)) n++;
    return n;
  }

  it('a quiet gateway still gets the floor of retries per window', () => {
    assert.equal(retriesAllowed(new RetryBudget(20), T), 10);
    assert.equal(retriesAllowed(new RetryBudget(20, 3), T), 3);
  });

  it('with traffic, retries are capped at the percentage of requests in the window', () => {
    const budget = new RetryBudget(20, 10);
    for (let i = 0; i < 100; i++) budget.recordRequest(T + i);
    assert.equal(retriesAllowed(budget, T + 500), 20);
    // More requests free more retries.
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 600);
    assert.equal(retriesAllowed(budget, T + 700), 10);
  });

  it('the floor wins while the percentage is below it', () => {
    const budget = new RetryBudget(20, 10);
    for (let i = 0; i < 10; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 10);
  });

  it('0 % with no floor allows no retry at all', () => {
    const budget = new RetryBudget(0, 0);
    for (let i = 0; i < 100; i++) budget.recordRequest(T);
    assert.equal(budget.tryRetry(T), false);
  });

  it('requests and retries leave the window after 10 s', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 50; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 10);
    assert.equal(budget.tryRetry(T + 9_999), false, 'still inside the window');
    // At T+10 s the bucket of second T is reused: its requests and retries are gone.
    assert.equal(budget.tryRetry(T + 10_000), false, 'no requests left, floor 0');
    for (let i = 0; i < 5; i++) budget.recordRequest(T + 10_000);
    assert.equal(retriesAllowed(budget, T + 10_000), 1);
  });

  it('the window slides one second at a time', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 50; i++) budget.recordRequest(T); // second 0
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 5_000); // second 5
    assert.equal(retriesAllowed(budget, T + 5_000), 20);
    // At second 10 the first 50 requests have left; 20 retries used at second 5 remain.
    assert.equal(budget.tryRetry(T + 10_000), false);
    // At second 15 everything from second 5 has left too.
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 15_000);
    assert.equal(retriesAllowed(budget, T + 15_000), 10);
  });

  it('a long pause clears everything', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 100; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 20);
    for (let i = 0; i < 100; i++) budget.recordRequest(T + 3_600_000);
    assert.equal(retriesAllowed(budget, T + 3_600_000), 20);
  });

  it('a clock that steps back a little counts into the current second', () => {
    const budget = new RetryBudget(50, 0);
    budget.recordRequest(T + 2_000);
    budget.recordRequest(T + 1_000);
    assert.equal(retriesAllowed(budget, T + 1_500), 1);
  });
});

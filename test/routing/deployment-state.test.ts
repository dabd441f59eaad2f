/** Deployment state: the circuit breaker (consecutive failures and failure rate), throttling, capacity windows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FailureKind } from '../../src/core/upstream.ts';
import { type BreakerSettings, DeploymentStates } from '../../src/routing/deployment-state.ts';

const NOW = 1_766_000_000_000;

describe('DeploymentStates: circuit breaker', () => {
  const breaker: BreakerSettings = {
    failureThreshold: 3,
    failureRatePercent: 100,
    minimumRequests: 1000,
    windowMs: 30_000,
    cooldownMs: 30_000,
  };
  const KEY = 'azure-eastus/gpt-5-prod';

  /** One attempt as the attempt loop runs it: begin, failed, end. */
  function failOnce(h: DeploymentStates, kind: FailureKind, at: number, retryAfterMs?: number): void {
    const admission = h.admit(KEY, breaker, at);
    assert.ok(admission, 'admitted');
    h.failed(KEY, kind, breaker, at, retryAfterMs);
    h.end(KEY, admission.probe);
  }

  function succeedOnce(h: DeploymentStates, latencyMs = 100): void {
    const admission = h.admit(KEY, breaker, NOW);
    assert.ok(admission, 'admitted');
    h.succeeded(KEY, latencyMs, false, breaker, NOW);
    h.end(KEY, admission.probe);
  }

  /** What the view says beyond the breaker, for a deployment nothing was sent to. */
  const IDLE = {
    circuitRetryAtMs: undefined,
    inFlight: 0,
    ttftEwmaMs: undefined,
    latencyEwmaMs: undefined,
    rpmUsed: 0,
    tpmUsed: 0,
    windowFreesAtMs: NOW,
  };

  it('a new deployment is closed, not throttled, nothing in flight, no latency yet', () => {
    assert.deepEqual(new DeploymentStates().view(KEY, breaker, NOW), {
      ...IDLE,
      circuit: 'closed',
      throttledUntilMs: 0,
    });
  });

  it('opens after failureThreshold consecutive counted failures, not before', () => {
    const h = new DeploymentStates();
    failOnce(h, 'server', NOW);
    failOnce(h, 'timeout', NOW + 1);
    assert.equal(h.view(KEY, breaker, NOW + 2).circuit, 'closed');
    failOnce(h, 'connection', NOW + 2);
    assert.equal(h.view(KEY, breaker, NOW + 3).circuit, 'open');
  });

  it('every health kind counts: server, overloaded, connection, timeout, protocol, auth, not_found, redirect', () => {
    for (const kind of [
      'server',
      'overloaded',
      'connection',
      'timeout',
      'protocol',
      'auth',
      'not_found',
      'redirect',
    ] as const) {
      const h = new DeploymentStates();
      for (let i = 0; i < breaker.failureThreshold; i++) failOnce(h, kind, NOW);
      assert.equal(h.view(KEY, breaker, NOW).circuit, 'open', kind);
    }
  });

  it('a success in between resets the count', () => {
    const h = new DeploymentStates();
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    succeedOnce(h);
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
  });

  it('client, content_filter and model_output failures never count', () => {
    const h = new DeploymentStates();
    for (let i = 0; i < 20; i++) {
      failOnce(h, 'client', NOW);
      failOnce(h, 'content_filter', NOW);
      failOnce(h, 'model_output', NOW);
    }
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
  });

  it('throttling does not count (nor reset the count) but sets throttledUntil from retry-after', () => {
    const h = new DeploymentStates();
    for (let i = 0; i < 10; i++) failOnce(h, 'throttled', NOW, 6000);
    assert.deepEqual(h.view(KEY, breaker, NOW), {
      ...IDLE,
      circuit: 'closed',
      throttledUntilMs: NOW + 6000,
    });
    // Two counted failures, a 429, one more counted failure: three in a row for health.
    failOnce(h, 'server', NOW);
    failOnce(h, 'server', NOW);
    failOnce(h, 'throttled', NOW);
    failOnce(h, 'server', NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'open');
  });

  it('throttledUntil: 1 s without retry-after, and a shorter later retry-after never shortens it', () => {
    const h = new DeploymentStates();
    failOnce(h, 'throttled', NOW);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, NOW + 1000);
    failOnce(h, 'throttled', NOW, 60_000);
    failOnce(h, 'throttled', NOW + 1000, 500);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, NOW + 60_000);
  });

  /** Opens the circuit at NOW. */
  function opened(): DeploymentStates {
    const h = new DeploymentStates();
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
    assert.deepEqual(h.admit(KEY, breaker, t), { probe: true });
    assert.equal(h.admit(KEY, breaker, t), undefined, 'a second probe is refused');
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t + 60_000).circuit, 'open');
    assert.equal(h.view(KEY, breaker, t).inFlight, 1);
  });

  it('a probe that succeeds closes the circuit, and the failure count starts from zero', () => {
    const h = opened();
    const t = NOW + breaker.cooldownMs;
    const probe = h.admit(KEY, breaker, t);
    assert.deepEqual(probe, { probe: true });
    h.succeeded(KEY, 250, false, breaker, t);
    h.end(KEY, true);
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
    const h = new DeploymentStates();
    assert.deepEqual(h.admit(KEY, breaker, NOW), { probe: false }); // a long stream, started while healthy
    for (let i = 0; i < breaker.failureThreshold; i++) failOnce(h, 'server', NOW);
    const t = NOW + breaker.cooldownMs;
    assert.deepEqual(h.admit(KEY, breaker, t), { probe: true }); // the probe
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
    h.end(KEY, false); // the old stream finishes; the probe is still running
    assert.equal(h.view(KEY, breaker, t).circuit, 'open');
  });

  it('in-flight count and latency EWMAs (alpha 0.2): streams feed time to first token, others total latency', () => {
    const h = new DeploymentStates();
    h.admit(KEY, breaker, NOW);
    h.admit(KEY, breaker, NOW);
    assert.equal(h.view(KEY, breaker, NOW).inFlight, 2);
    h.succeeded(KEY, 100, false, breaker, NOW);
    h.end(KEY, false);
    h.succeeded(KEY, 200, false, breaker, NOW);
    h.end(KEY, false);
    h.end(KEY, false); // an extra end never goes below zero
    h.succeeded(KEY, 40, true, breaker, NOW);
    const view = h.view(KEY, breaker, NOW);
    assert.equal(view.inFlight, 0);
    assert.equal(view.latencyEwmaMs, 120);
    assert.equal(view.ttftEwmaMs, 40);
  });

  it('deployments are tracked separately', () => {
    const h = opened();
    assert.equal(h.view('other/model', breaker, NOW).circuit, 'closed');
  });
});

describe('DeploymentStates: failure rate over a window', () => {
  const breaker: BreakerSettings = {
    failureThreshold: 1000,
    failureRatePercent: 50,
    minimumRequests: 10,
    windowMs: 30_000,
    cooldownMs: 5000,
  };
  const KEY = 'p/m';

  /** Alternates: fail, succeed, fail, ... so no run of consecutive failures builds up. */
  function alternate(h: DeploymentStates, count: number, at: number, failFirst = true): void {
    for (let i = 0; i < count; i++) {
      const admission = h.admit(KEY, breaker, at);
      assert.ok(admission);
      if ((i % 2 === 0) === failFirst) h.failed(KEY, 'server', breaker, at);
      else h.succeeded(KEY, 10, false, breaker, at);
      h.end(KEY, admission.probe);
    }
  }

  it('opens at 50% failures once the window holds minimumRequests, never on consecutive failures alone', () => {
    const h = new DeploymentStates();
    alternate(h, 9, NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed', '9 requests: below the minimum volume');
    alternate(h, 1, NOW, false);
    // 10 requests, 5 failures: the 10th outcome was a success; the rate is checked on failures.
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
    alternate(h, 1, NOW);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'open', '6 of 11 failed');
  });

  it('a rate below the threshold keeps it closed', () => {
    const h = new DeploymentStates();
    for (let i = 0; i < 40; i++) {
      const admission = h.admit(KEY, breaker, NOW)!;
      if (i % 3 === 0) h.failed(KEY, 'timeout', breaker, NOW);
      else h.succeeded(KEY, 10, false, breaker, NOW);
      h.end(KEY, admission.probe);
    }
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed', '14 of 40 (35%)');
  });

  it('old outcomes leave the window: failures spread over time do not add up', () => {
    const h = new DeploymentStates();
    alternate(h, 9, NOW);
    // 31 s later the first nine have left the window: two more failures are not 50% of 10+.
    alternate(h, 2, NOW + 31_000);
    assert.equal(h.view(KEY, breaker, NOW + 31_000).circuit, 'closed');
  });

  it('throttles and client errors are not outcomes at all', () => {
    const h = new DeploymentStates();
    for (let i = 0; i < 30; i++) {
      h.failed(KEY, 'throttled', breaker, NOW);
      h.failed(KEY, 'client', breaker, NOW);
    }
    alternate(h, 9, NOW, false);
    assert.equal(h.view(KEY, breaker, NOW).circuit, 'closed');
  });
});

describe('DeploymentStates: capacity', () => {
  const breaker: BreakerSettings = {
    failureThreshold: 5,
    failureRatePercent: 50,
    minimumRequests: 20,
    windowMs: 30_000,
    cooldownMs: 30_000,
  };
  const KEY = 'p/m';

  it('counts requests and estimated tokens over a sliding minute, and settles tokens to the real usage', () => {
    const h = new DeploymentStates();
    const first = h.charge(KEY, 1000, NOW);
    h.charge(KEY, 500, NOW + 20_000);
    assert.equal(h.view(KEY, breaker, NOW + 20_000).rpmUsed, 2);
    assert.equal(h.view(KEY, breaker, NOW + 20_000).tpmUsed, 1500);
    h.settle(KEY, first, 300, NOW + 21_000);
    assert.equal(h.view(KEY, breaker, NOW + 21_000).tpmUsed, 800);
    // The first request leaves the window a minute after its second.
    assert.equal(h.view(KEY, breaker, NOW + 60_999).rpmUsed, 1);
    assert.equal(h.view(KEY, breaker, NOW + 60_999).tpmUsed, 500);
  });

  it('windowFreesAtMs is when the oldest counted second leaves the window', () => {
    const h = new DeploymentStates();
    h.charge(KEY, 1, NOW + 1500);
    h.charge(KEY, 1, NOW + 5000);
    const second = Math.floor((NOW + 1500) / 1000);
    assert.equal(h.view(KEY, breaker, NOW + 6000).windowFreesAtMs, (second + 60) * 1000);
  });

  it('a remaining count of zero from the cloud keeps the deployment throttled until the reset', () => {
    const h = new DeploymentStates();
    h.observeCapacity(KEY, { remainingRequests: 5, requestsResetAtMs: NOW + 9000 }, NOW);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, 0, 'capacity left: nothing changes');
    h.observeCapacity(KEY, { remainingRequests: 0, requestsResetAtMs: NOW + 9000 }, NOW);
    assert.equal(h.view(KEY, breaker, NOW).throttledUntilMs, NOW + 9000);
    h.observeCapacity(KEY, { remainingTokens: 0 }, NOW + 100);
    assert.equal(
      h.view(KEY, breaker, NOW).throttledUntilMs,
      NOW + 9000,
      'a shorter default never shortens it',
    );
  });
});

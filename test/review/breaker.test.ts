/** Review tests: the circuit breaker's half-open state under concurrent requests. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { RoutingSettings } from '../../src/config/index.ts';
import type { HttpCall, Provider } from '../../src/providers/types.ts';
import { type AttemptContext, runAttempts } from '../../src/resilience/attempts.ts';
import { RetryBudget } from '../../src/resilience/retry-budget.ts';
import { HealthTracker } from '../../src/routing/health.ts';
import { planAttempts } from '../../src/routing/plan.ts';
import type { Deployment, LogicalModel } from '../../src/routing/types.ts';
import type { Transport, UpstreamResponse } from '../../src/transport/http.ts';

const ROUTING: RoutingSettings = {
  timeouts: { connectMs: 1000, firstByteMs: 60_000, idleMs: 60_000, totalMs: 600_000 },
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 },
  circuitBreaker: {
    failureThreshold: 1,
    failureRatePercent: 100,
    minimumRequests: 1000,
    windowMs: 30_000,
    cooldownMs: 1000,
  },
};

function provider(id: string): Provider {
  const unused = (): never => {
    throw new Error('unused');
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

const X: Deployment = { key: 'x/m', provider: provider('x'), model: 'm', priority: 1, weight: 1 };
const MODEL: LogicalModel = { name: 'm', strategy: 'priority', routing: ROUTING, deployments: [X] };

/** A transport whose calls stay open until the test answers them. */
function heldTransport() {
  const pending: ((r: UpstreamResponse) => void)[] = [];
  const transport = {
    send: (_call: HttpCall): Promise<UpstreamResponse> => new Promise((resolve) => pending.push(resolve)),
    close: async () => {},
  } as unknown as Transport;
  const ok = (): UpstreamResponse => ({
    status: 200,
    headers: {},
    body: Object.assign(Readable.from([]), { text: async () => '{}' }),
  });
  return { transport, pending, answer: (i: number) => pending[i]?.(ok()) };
}

describe('circuit breaker half-open', () => {
  test('a half-open circuit lets exactly one probe through, however many requests planned against it', async () => {
    let now = 1_000_000;
    const health = new HealthTracker();
    const budget = new RetryBudget(100);
    const { transport, pending, answer } = heldTransport();
    // One failure opens the circuit; the cooldown passes: half-open.
    health.begin(X.key);
    health.failed(X.key, 'server', ROUTING.circuitBreaker, now);
    health.end(X.key);
    now += 2000;
    assert.equal(health.view(X.key, ROUTING.circuitBreaker, now).circuit, 'half-open');

    const context = (): AttemptContext => ({
      model: MODEL,
      plan: planAttempts(MODEL, (d) => health.view(d.key, ROUTING.circuitBreaker, now), now),
      health,
      retryBudget: budget,
      transport,
      requestSignal: new AbortController().signal,
      abortCause: () => undefined,
      now: () => now,
    });
    // Two requests arrive together; both are planned before either attempt starts.
    const a = context();
    const b = context();
    const attempt = async (_d: Deployment, io: { send(c: HttpCall): Promise<UpstreamResponse> }) => {
      const response = await io.send({ method: 'POST', url: 'http://x.invalid/', headers: {} });
      return response.status;
    };
    const ra = runAttempts(a, attempt);
    const rb = runAttempts(b, attempt);
    await new Promise((r) => setImmediate(r));
    const concurrentProbes = pending.length;
    answer(0);
    answer(1);
    const results = await Promise.all([ra, rb]);
    for (const r of results) if (r.ok) r.served.end();
    assert.equal(concurrentProbes, 1, `${concurrentProbes} requests reached a half-open deployment at once`);
  });
});

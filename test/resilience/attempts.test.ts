/** The attempt loop: single half-open probe, failure classification by where it happened, aborts, hedging, backoff. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../src/core/errors.ts';
import { UpstreamError } from '../../src/core/upstream.ts';
import { type AttemptIO, runAttempts } from '../../src/resilience/attempts.ts';
import { DeploymentStates } from '../../src/routing/deployment-state.ts';
import type { Deployment } from '../../src/routing/types.ts';
import type { Transport } from '../../src/transport/http.ts';
import { context, deployment, heldTransport, ROUTING } from './harness.ts';

const send = async (_d: Deployment, io: AttemptIO) => {
  const response = await io.send({ method: 'POST', url: 'http://x.invalid/', headers: {} });
  io.firstOutput();
  return response.status;
};

const tick = () => new Promise((r) => setImmediate(r));

describe('circuit breaker half-open', () => {
  test('a half-open circuit lets exactly one probe through, however many requests planned against it', async () => {
    let now = 1_000_000;
    const states = new DeploymentStates();
    const X = deployment('x');
    const { transport, calls } = heldTransport();
    // One failure opens the circuit; the cooldown passes: half-open.
    states.admit(X.key, ROUTING.circuitBreaker, now);
    states.failed(X.key, 'server', ROUTING.circuitBreaker, now);
    states.end(X.key, false);
    now += 2000;
    assert.equal(states.view(X.key, ROUTING.circuitBreaker, now).circuit, 'half-open');
    // Two requests arrive together; both are planned before either attempt starts.
    const a = context([X], { states, transport, now: () => now });
    const b = context([X], { states, transport, now: () => now });
    const ra = runAttempts(a.ctx, send);
    const rb = runAttempts(b.ctx, send);
    await tick();
    const concurrentProbes = calls.length;
    for (const c of calls) c.answer();
    const results = await Promise.all([ra, rb]);
    for (const r of results) if (r.ok) r.served.end(undefined);
    assert.equal(concurrentProbes, 1, `${concurrentProbes} requests reached a half-open deployment at once`);
  });
});

describe('failures are classified by where they happened', () => {
  test('a gateway bug while building the request is a 500 and never touches health; no other deployment is tried', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { ctx, states, log } = context([a, b]);
    let tried = 0;
    for (let i = 0; i < 10; i++) {
      const result = await runAttempts(ctx, async () => {
        tried++;
        JSON.stringify(JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)); // RangeError
        return 1;
      });
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.error.code, 'internal_error');
        assert.equal(result.error.status, 500);
        assert.equal(result.attempts.at(-1)?.kind, 'internal');
      }
    }
    assert.equal(tried, 10, 'one attempt per request: a bug is not retried elsewhere');
    for (const d of [a, b])
      assert.equal(states.view(d.key, ROUTING.circuitBreaker, Date.now()).circuit, 'closed');
    assert.ok(log.entries.some((e) => e.event === 'attempt_internal_error'));
  });

  test('an adapter that cannot honour the request is skipped, not failed, and the next deployment serves', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { ctx, states } = context([a, b]);
    const result = await runAttempts(ctx, async (d) => {
      if (d === a) throw new GatewayError('unsupported_parameter', 'logprobs: not supported by a');
      return 7;
    });
    assert.ok(result.ok);
    assert.deepEqual(
      result.attempts.map((r) => [r.provider, r.outcome, r.kind]),
      [
        ['a', 'skipped', 'unsupported'],
        ['b', 'ok', undefined],
      ],
    );
    result.served.end(undefined);
    assert.equal(states.view(a.key, ROUTING.circuitBreaker, Date.now()).circuit, 'closed');
  });

  test("the cloud's own failure counts against its health and fails over", async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { ctx, states } = context([a, b]);
    const result = await runAttempts(ctx, async (d) => {
      if (d === a) throw new UpstreamError({ kind: 'server', retryable: true, status: 500, message: 'boom' });
      return 1;
    });
    assert.ok(result.ok);
    result.served.end(undefined);
    assert.equal(states.view(a.key, ROUTING.circuitBreaker, Date.now()).circuit, 'open');
    assert.equal(result.attempts[0]?.reason, 'server: boom');
  });

  test('credential failures are recorded with a generic reason; the detail goes to the operator log only', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { ctx, log } = context([a, b]);
    const secretish = 'Incorrect API key provided: sk-proj-abc***xyz';
    const result = await runAttempts(ctx, async (d) => {
      if (d === a)
        throw new UpstreamError({ kind: 'auth', retryable: true, status: 401, message: secretish });
      throw new UpstreamError({ kind: 'server', retryable: true, status: 500, message: 'down' });
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.doesNotMatch(result.error.message, /sk-proj/);
    assert.match(result.error.message, /credentials rejected by the cloud \(HTTP 401\)/);
    assert.ok(!JSON.stringify(result.attempts).includes('sk-proj'));
    assert.ok(log.entries.some((e) => e.event === 'upstream_credentials_failed' && e.detail === secretish));
  });
});

describe('a failed attempt releases its upstream', () => {
  test('an attempt that fails after its response started is aborted at once', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { transport, calls, aborted } = heldTransport();
    const { ctx } = context([a, b], { transport });
    const result = runAttempts(ctx, async (d, io) => {
      await io.send({ method: 'POST', url: `http://${d.provider.id}.invalid/`, headers: {} });
      if (d === a)
        throw new UpstreamError({ kind: 'server', retryable: true, message: 'in-band error event' });
      io.firstOutput();
      return 1;
    });
    await tick();
    calls[0]?.answer();
    await tick();
    await tick();
    calls[1]?.answer();
    const r = await result;
    assert.ok(r.ok);
    assert.deepEqual(
      aborted.map((c) => c.url),
      ['http://a.invalid/'],
    );
    r.served.end(undefined);
  });
});

describe('timeouts', () => {
  test('a non-streaming attempt has no headers timeout of its own (the total deadline governs); a stream has firstByteMs', async () => {
    for (const stream of [false, true]) {
      const { transport, calls } = heldTransport();
      const now = 5_000_000;
      const { ctx } = context([deployment('a')], {
        transport,
        stream,
        now: () => now,
        deadlineMs: now + 90_000,
      });
      const r = runAttempts(ctx, send);
      await tick();
      assert.equal(
        calls[0]?.options.headersMs,
        stream ? ROUTING.timeouts.firstByteMs : 0,
        `stream: ${stream}`,
      );
      calls[0]?.answer();
      const result = await r;
      if (result.ok) result.served.end(undefined);
    }
  });
});

describe('hedging', () => {
  test('a silent first attempt gets a hedge; the first to answer wins and the loser is aborted', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { transport, calls, aborted } = heldTransport();
    const { ctx } = context([a, b], { transport, hedgeAfterMs: 30, stream: true });
    const result = runAttempts(ctx, send);
    await tick();
    assert.equal(calls.length, 1);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls.length, 2, 'the hedge started');
    calls[1]?.answer();
    const r = await result;
    assert.ok(r.ok);
    assert.equal(r.served.deployment, b);
    assert.deepEqual(
      aborted.map((c) => c.url),
      ['http://x.invalid/'],
    );
    assert.deepEqual(
      r.attempts.map((x) => [x.provider, x.outcome, x.hedge ?? false]),
      [
        ['a', 'aborted', false],
        ['b', 'ok', true],
      ],
    );
    assert.match(r.attempts[1]?.reason ?? '', /^hedge: no first output after 30 ms$/);
    r.served.end(undefined);
  });

  test('no hedge when the first attempt answers in time, and none without a second deployment', async () => {
    const { transport, calls } = heldTransport();
    const { ctx } = context([deployment('a')], { transport, hedgeAfterMs: 10 });
    const result = runAttempts(ctx, send);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(calls.length, 1);
    calls[0]?.answer();
    const r = await result;
    assert.ok(r.ok);
    r.served.end(undefined);
  });
});

describe('retry after a throttle', () => {
  test('the only deployment throttled for a moment is tried again after its retry-after, within the deadline', async () => {
    const a = deployment('a');
    const { ctx } = context([a]);
    let calls = 0;
    const started = Date.now();
    const result = await runAttempts(ctx, async () => {
      calls++;
      if (calls === 1) {
        throw new UpstreamError({
          kind: 'throttled',
          retryable: true,
          status: 429,
          retryAfterMs: 50,
          message: 'slow down',
        });
      }
      return 1;
    });
    assert.ok(result.ok);
    assert.equal(calls, 2);
    assert.ok(Date.now() - started >= 45, 'waited for the retry-after');
    assert.match(result.attempts[1]?.reason ?? '', /^retry after throttle: waited \d+ ms$/);
    result.served.end(undefined);
  });

  test('a retry-after beyond the deadline is not waited for: 429 with retry-after', async () => {
    const a = deployment('a');
    const now = Date.now();
    const { ctx } = context([a], { deadlineMs: now + 100 });
    let calls = 0;
    const result = await runAttempts(ctx, async () => {
      calls++;
      throw new UpstreamError({
        kind: 'throttled',
        retryable: true,
        status: 429,
        retryAfterMs: 5000,
        message: 'slow down',
      });
    });
    assert.equal(calls, 1);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.error.status, 429);
      assert.equal(result.error.retryAfterMs, 5000);
    }
  });
});

describe('what the client is told when nothing served', () => {
  test('every deployment overloaded, none throttled: 503 with retry-after, not 502', async () => {
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    const { ctx } = context([a, b]);
    const result = await runAttempts(ctx, async () => {
      throw new UpstreamError({ kind: 'overloaded', retryable: true, status: 529, message: 'overloaded' });
    });
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.error.status, 503);
      assert.equal(result.error.code, 'upstream_overloaded');
      assert.ok((result.error.retryAfterMs ?? 0) >= 1000);
    }
  });

  test('every circuit open: 503 no_deployment_available with retry-after at the soonest cool-down end', async () => {
    const now = 10_000_000;
    const states = new DeploymentStates();
    const [a, b] = [deployment('a', 1), deployment('b', 2)];
    for (const [d, at] of [
      [a, now - 500],
      [b, now - 200],
    ] as const) {
      states.admit(d.key, ROUTING.circuitBreaker, at);
      states.failed(d.key, 'server', ROUTING.circuitBreaker, at);
      states.end(d.key, false);
    }
    const { ctx } = context([a, b], { states, now: () => now });
    const result = await runAttempts(ctx, send);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.error.code, 'no_deployment_available');
      // a opened 500 ms ago with a 1000 ms cool-down: back in 500 ms, rounded up to the 1 s floor.
      assert.equal(result.error.retryAfterMs, 1000);
    }
  });
});

describe('a served attempt at its end', () => {
  test('is aborted only if one of its upstream calls is still open (a stream the client left), not after every answer read to its end', async () => {
    const X = deployment('x');
    const signals: AbortSignal[] = [];
    const answered = async (settle: boolean) => {
      const transport = {
        send: async (_call: unknown, options: { signal: AbortSignal; onSettled?: () => void }) => {
          signals.push(options.signal);
          // The transport says the exchange is over once the body was read to its end.
          if (settle) options.onSettled?.();
          return { status: 200, headers: {}, body: undefined };
        },
        close: async () => {},
      } as unknown as Transport;
      const { ctx } = context([X], { transport });
      const result = await runAttempts(ctx, send);
      assert.ok(result.ok);
      if (result.ok) result.served.end(10);
      return signals.at(-1)!;
    };
    assert.equal(
      (await answered(true)).aborted,
      false,
      'nothing upstream is left: no abort to build and dispatch',
    );
    const open = await answered(false);
    assert.equal(open.aborted, true, 'an upstream call still open is closed at the end');
    assert.equal((open.reason as DOMException).message, 'the attempt ended');
  });
});

/**
 * Review findings on the request path (issue 11): one tenant's bad request never hurts another,
 * long answers are not killed, failed attempts release their upstream, HTTP semantics.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import {
  assertResponse,
  chunkFrame,
  completion,
  gatewayFromYaml,
  providerYaml,
  send,
  startUpstream,
  type Upstream,
  waitFor,
} from '../helpers/raw.ts';

const KEYS = { tenantA: 'sk-tenant-a-0001', tenantB: 'sk-tenant-b-0002' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const CHAT = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

function twoDeployments(primary: Upstream, secondary: Upstream, extra = ''): string {
  return `
server: { shutdownGraceMs: 2000 }
storage: memory
routing:
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 20000 }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 }
  circuitBreaker: { failureThreshold: 5, cooldownMs: 30000 }
providers:
  - ${providerYaml('primary', primary)}
  - ${providerYaml('secondary', secondary)}
models:
  - name: m
    deployments:
      - { provider: primary, model: m, priority: 1 }
      - { provider: secondary, model: m, priority: 2 }
keys:
  - { name: tenant-a, key: ${KEYS.tenantA} }
  - { name: tenant-b, key: ${KEYS.tenantB} }
${extra}`;
}

const ok = () => startUpstream((_req, res) => res.end(completion('hello')));

/** A tool whose parameters nest `depth` levels: about 60 KB at 10,000 levels. */
function deeplyNestedTools(depth: number): string {
  let schema = '{"type":"string"}';
  for (let i = 0; i < depth; i++) schema = `{"type":"object","properties":{"a":${schema}}}`;
  return `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`;
}

describe('item 1: a client bad request never opens a circuit', () => {
  test('50 requests with tool parameters nested 10,000 deep get 400 naming the field; another key is then served by the primary with its circuit closed', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(twoDeployments(primary, secondary));
    try {
      const body = deeplyNestedTools(10_000);
      for (let i = 0; i < 50; i++) {
        const r = assertResponse(await send(url, '/v1/chat/completions', body, auth(KEYS.tenantA)));
        assert.equal(r.status, 400, r.body);
        const error = JSON.parse(r.body).error;
        assert.equal(error.code, 'invalid_request');
        assert.match(error.param, /^tools\[0\]\.function\.parameters/);
        assert.match(error.message, /nests deeper than 64 levels/);
      }
      assert.equal(primary.requests + secondary.requests, 0, 'nothing reached a cloud');
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantB)));
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-switchyard-provider'], 'primary');
      const breaker = gateway.runtime.models.get('m')!.model.routing.circuitBreaker;
      assert.equal(gateway.runtime.states.view('primary/m', breaker, Date.now()).circuit, 'closed');
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });

  test('tool-call arguments nested too deep are refused by name too', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(twoDeployments(primary, secondary));
    try {
      const args = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const body = JSON.stringify({
        model: 'm',
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'x' },
        ],
      });
      const r = assertResponse(await send(url, '/v1/chat/completions', body, auth(KEYS.tenantA)));
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.body).error.param, 'messages[1].tool_calls[0].function.arguments');
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });
});

describe('item 2: a non-streaming answer longer than firstByteMs', () => {
  test('is waited for up to totalMs and served once, by one deployment', async () => {
    const slow = await startUpstream((_req, res) =>
      setTimeout(() => res.end(completion('after a long think')), 700),
    );
    const secondary = await ok();
    const yaml = twoDeployments(slow, secondary).replace('firstByteMs: 5000', 'firstByteMs: 200');
    const { gateway, url } = await gatewayFromYaml(yaml);
    try {
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).choices[0].message.content, 'after a long think');
      assert.equal(r.headers['x-switchyard-attempts'], '1');
      assert.equal(slow.requests, 1);
      assert.equal(secondary.requests, 0);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([slow.close(), secondary.close()]);
    }
  });

  test('a stream still fails over when its first event takes longer than firstByteMs', async () => {
    const silent = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': keep-alive comment, no event\n\n');
    });
    const secondary = await ok();
    const yaml = twoDeployments(silent, secondary).replace('firstByteMs: 5000', 'firstByteMs: 200');
    const { gateway, url } = await gatewayFromYaml(yaml);
    try {
      const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      secondary.server.removeAllListeners('request');
      secondary.server.on('request', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          `${chunkFrame({ role: 'assistant', content: 'ok' })}${chunkFrame({}, 'stop')}data: [DONE]\n\n`,
        );
      });
      const r = assertResponse(await send(url, '/v1/chat/completions', body, auth(KEYS.tenantA)));
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-switchyard-provider'], 'secondary');
      assert.equal(r.headers['x-switchyard-attempts'], '2');
    } finally {
      await gateway.shutdown(0);
      await Promise.all([silent.close(), secondary.close()]);
    }
  });
});

describe('item 3: a failed attempt releases its upstream', () => {
  test('an in-band error after the stream started: failover, and the bad upstream connection closes within 100 ms', async () => {
    // 200, an error event, then nothing: the connection would stay open if nobody aborted it.
    const bad = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error', code: 'overloaded' } })}\n\n`,
      );
    });
    const good = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `${chunkFrame({ role: 'assistant', content: 'fine' })}${chunkFrame({}, 'stop')}data: [DONE]\n\n`,
      );
    });
    const { gateway, url } = await gatewayFromYaml(twoDeployments(bad, good));
    try {
      const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      const r = assertResponse(await send(url, '/v1/chat/completions', body, auth(KEYS.tenantA)));
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-switchyard-provider'], 'secondary');
      assert.match(r.body, /fine/);
      assert.ok(
        await waitFor(() => bad.socketClosedAt.length > 0, 2000),
        'the bad upstream connection was never closed',
      );
      const closedAfterMs = (bad.socketClosedAt[0] ?? 0) - r.endedAt;
      assert.ok(closedAfterMs <= 100, `closed ${closedAfterMs} ms after the client's answer`);
      const started = Date.now();
      const { drained } = await gateway.shutdown(2000);
      assert.ok(drained, 'shutdown waited for a connection nobody reads');
      assert.ok(Date.now() - started < 2000);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([bad.close(), good.close()]);
    }
  });
});

describe('HTTP semantics', () => {
  test('405 carries Allow; 401 carries WWW-Authenticate: Bearer', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(twoDeployments(primary, secondary));
    try {
      const r405 = assertResponse(
        await send(url, '/v1/chat/completions', undefined, auth(KEYS.tenantA), 'GET'),
      );
      assert.equal(r405.status, 405);
      assert.equal(r405.headers.allow, 'POST');
      const r401 = assertResponse(await send(url, '/v1/chat/completions', CHAT));
      assert.equal(r401.status, 401);
      assert.match(String(r401.headers['www-authenticate']), /^Bearer/);
      const wrong = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth('sk-not-a-key-0000')));
      assert.equal(wrong.status, 401);
      assert.match(String(wrong.headers['www-authenticate']), /^Bearer/);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });

  test('every deployment overloaded (529, 503), none throttled: 503 with retry-after, not 502', async () => {
    const anthropicLike = await startUpstream((_req, res) => {
      res.writeHead(529, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Overloaded', type: 'overloaded_error' } }));
    });
    const unavailable = await startUpstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Service unavailable', type: 'server_error' } }));
    });
    const { gateway, url } = await gatewayFromYaml(twoDeployments(anthropicLike, unavailable));
    try {
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(r.status, 503, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'upstream_overloaded');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([anthropicLike.close(), unavailable.close()]);
    }
  });

  test('503 no_deployment_available carries retry-after: the soonest circuit cool-down end', async () => {
    const down = await startUpstream((req) => req.socket.destroy());
    const { gateway, url } = await gatewayFromYaml(
      twoDeployments(down, down)
        .replace('failureThreshold: 5, cooldownMs: 30000', 'failureThreshold: 1, cooldownMs: 7000')
        .replace('budgetPercent: 100', 'budgetPercent: 100'),
    );
    try {
      const first = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(first.status, 502, first.body);
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(r.status, 503, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'no_deployment_available');
      const retryAfter = Number(r.headers['retry-after']);
      assert.ok(retryAfter >= 6 && retryAfter <= 7, `retry-after ${retryAfter}`);
    } finally {
      await gateway.shutdown(0);
      await down.close();
    }
  });

  test('drainDelayMs: after SIGTERM readiness is 503 at once, new requests are still served for the delay, then the listener closes', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(
      twoDeployments(primary, secondary).replace(
        'shutdownGraceMs: 2000',
        'shutdownGraceMs: 2000, drainDelayMs: 600',
      ),
    );
    try {
      const stopping = gateway.shutdown();
      const ready = assertResponse(await send(url, '/readyz', undefined, {}, 'GET'));
      assert.equal(ready.status, 503);
      const served = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(served.status, 200, 'served during the drain delay');
      assert.equal(served.headers.connection, 'close', 'keep-alive clients are moved elsewhere');
      await stopping;
      const after = await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA));
      assert.ok('error' in after, 'the listener is closed after the delay');
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });
});

describe('slow clients and the in-flight cap', () => {
  test('a body that trickles gets 408 and its socket is closed', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(
      twoDeployments(primary, secondary).replace(
        'shutdownGraceMs: 2000',
        'shutdownGraceMs: 2000, bodyTimeoutMs: 400',
      ),
    );
    try {
      const port = Number(new URL(url).port);
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        answer += d;
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.tenantA}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":`,
      );
      const trickle = setInterval(() => socket.write(' '), 100);
      await closed;
      clearInterval(trickle);
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /"code":"request_timeout"/);
      assert.match(answer, /server\.bodyTimeoutMs/);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });

  test('beyond server.maxInFlight new requests get 503 with retry-after; health probes still answer', async () => {
    const hanging = await startUpstream(() => {});
    const secondary = await ok();
    const { gateway, url } = await gatewayFromYaml(
      twoDeployments(hanging, secondary).replace(
        'shutdownGraceMs: 2000',
        'shutdownGraceMs: 2000, maxInFlight: 1',
      ),
    );
    try {
      void send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA));
      assert.ok(await waitFor(() => hanging.requests === 1));
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantB)));
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).error.code, 'gateway_busy');
      assert.equal(r.headers['retry-after'], '1');
      const health = assertResponse(await send(url, '/healthz', undefined, {}, 'GET'));
      assert.equal(health.status, 200);
    } finally {
      await gateway.shutdown(0);
      await Promise.all([hanging.close(), secondary.close()]);
    }
  });
});

describe('secrets', () => {
  test('after start-up no client key is kept in plaintext: not in the runtime config, not in the identity index', async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const { gateway, url } = await gatewayFromYaml(twoDeployments(primary, secondary));
    try {
      const r = assertResponse(await send(url, '/v1/chat/completions', CHAT, auth(KEYS.tenantA)));
      assert.equal(r.status, 200);
      const rt = gateway.runtime;
      const seen = new WeakSet<object>();
      const texts: string[] = [];
      // Walk everything reachable from the runtime's config and identity (Maps included).
      const walk = (value: unknown, depth: number): void => {
        if (depth > 12 || value === null || value === undefined) return;
        if (typeof value === 'string') texts.push(value);
        else if (value instanceof Map) {
          for (const [k, v] of value) {
            walk(k, depth + 1);
            walk(v, depth + 1);
          }
        } else if (value instanceof Set) for (const v of value) walk(v, depth + 1);
        else if (typeof value === 'object' && !seen.has(value)) {
          seen.add(value);
          for (const v of Object.values(value)) walk(v, depth + 1);
        }
      };
      walk(rt.config, 0);
      walk(rt.identity, 0);
      for (const key of Object.values(KEYS)) {
        assert.ok(!texts.some((t) => t.includes(key)), 'a plaintext client key is still held');
      }
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });
});

describe('smaller truths', () => {
  test("each model's routing.retry.budgetPercent is its own retry budget", async () => {
    const [primary, secondary] = [await ok(), await ok()];
    const yaml = twoDeployments(primary, secondary).replace(
      'models:\n',
      'models:\n  - name: frugal\n    routing: { retry: { budgetPercent: 5 } }\n    deployments: [{ provider: primary, model: m }]\n',
    );
    const { gateway } = await gatewayFromYaml(yaml);
    try {
      const retriesAllowed = (name: string) => {
        const budget = gateway.runtime.models.get(name)!.retryBudget;
        const now = Date.now();
        for (let i = 0; i < 200; i++) budget.recordRequest(now);
        let allowed = 0;
        while (allowed < 1000 && budget.tryRetry(now)) allowed++;
        return allowed;
      };
      assert.equal(retriesAllowed('frugal'), 10, '5% of 200 is below the floor of 10');
      assert.equal(retriesAllowed('m'), 200, '100% of 200, untouched by the other model');
    } finally {
      await gateway.shutdown(0);
      await Promise.all([primary.close(), secondary.close()]);
    }
  });
});

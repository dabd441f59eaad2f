/**
 * Limits and money through the gateway, on the in-process store and on Redis: rpm exact, tpm
 * settled to real usage, a hard budget under 50 concurrent requests, soft-budget alerts,
 * commitment-first. (Several replicas: cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  assertResponse,
  completion,
  gatewayFromYaml,
  send,
  startUpstream,
  type Upstream,
  waitFor,
} from '../helpers/raw.ts';
import { REDIS } from '../helpers/services.ts';

const ADMIN = 'sy-admin-limits-test-0001';

/** Usage the upstream reports: 3 prompt and `completionTokens` completion tokens. */
function upstreamWith(completionTokens: number, delayMs = 0): Promise<Upstream> {
  return startUpstream((_req, res) => {
    const body = JSON.parse(completion('ok'));
    body.usage = {
      prompt_tokens: 3,
      completion_tokens: completionTokens,
      total_tokens: 3 + completionTokens,
    };
    setTimeout(() => res.end(JSON.stringify(body)), delayMs);
  });
}

interface Webhook {
  url: string;
  alerts: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function startWebhook(): Promise<Webhook> {
  const alerts: Array<Record<string, unknown>> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    alerts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const chat = (maxTokens: number) =>
  JSON.stringify({ model: 'm', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] });

for (const shared of [false, true]) {
  const label = shared ? 'on Redis' : 'in process';
  describe(`limits and budgets ${label}`, shared ? REDIS : {}, () => {
    let up: Upstream;
    let webhook: Webhook;
    before(async () => {
      up = await upstreamWith(100);
      webhook = await startWebhook();
    });
    after(async () => {
      await up.close();
      await webhook.close();
    });

    /** A gateway with one key (a fresh name per test: Redis counters never meet another test's). */
    async function gateway(keyFields: string, upstream: Upstream = up) {
      const key = `sk-limits-${randomBytes(8).toString('hex')}`;
      const name = `k-${randomBytes(4).toString('hex')}`;
      const yaml = `
storage: memory
adminKey: ${ADMIN}
${shared ? 'redis: redis://127.0.0.1:6379' : ''}
alerts: { webhook: ${webhook.url} }
providers:
  - { id: up, type: openai-compatible, region: on-prem, endpoint: ${upstream.url}/v1 }
models:
  - name: m
    deployments: [{ provider: up, model: m, price: { input: 100, output: 100 } }]
keys:
  - { name: ${name}, key: ${key}, ${keyFields} }
`;
      const g = await gatewayFromYaml(yaml);
      return { ...g, key, name, auth: { authorization: `Bearer ${key}` } };
    }

    test('rpm is exact: the 6th request of a 5-rpm key gets 429 with retry-after; every answer carries the rate headers', async () => {
      const g = await gateway('rpm: 5');
      try {
        for (let i = 0; i < 5; i++) {
          const r = assertResponse(await send(g.url, '/v1/chat/completions', chat(10), g.auth));
          assert.equal(r.status, 200, r.body);
          assert.equal(r.headers['x-ratelimit-limit-requests'], '5');
          assert.equal(r.headers['x-ratelimit-remaining-requests'], String(4 - i));
          assert.match(String(r.headers['x-ratelimit-reset-requests']), /^(\d+m)?\d+s$/);
        }
        const sixth = assertResponse(await send(g.url, '/v1/chat/completions', chat(10), g.auth));
        assert.equal(sixth.status, 429);
        const error = JSON.parse(sixth.body).error;
        assert.equal(error.code, 'rate_limit_exceeded');
        assert.match(error.message, /5 requests per minute \(keys\[\]\.rpm\)/);
        const retryAfter = Number(sixth.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
        assert.equal(sixth.headers['x-ratelimit-remaining-requests'], '0');
      } finally {
        await g.gateway.shutdown(0);
      }
    });

    test('tpm reserves the estimate up front and settles to the real usage', async () => {
      // Each request may use ~17 input + 400 output tokens; really uses 103. Without settlement the
      // 4th would be refused (4 x 417 > 1500); settled, 12 fit (12 x 103 < 1500, 14 x 103 > 1500).
      const g = await gateway('tpm: 1500');
      try {
        let served = 0;
        for (let i = 0; i < 16; i++) {
          const r = assertResponse(await send(g.url, '/v1/chat/completions', chat(400), g.auth));
          if (r.status === 200) served++;
          else {
            assert.equal(r.status, 429);
            assert.equal(JSON.parse(r.body).error.code, 'rate_limit_exceeded');
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        assert.ok(served >= 10 && served <= 12, `served ${served}`);
        const tooBig = assertResponse(await send(g.url, '/v1/chat/completions', chat(5000), g.auth));
        assert.equal(tooBig.status, 429);
        assert.match(JSON.parse(tooBig.body).error.message, /this request alone may use \d+ tokens/);
      } finally {
        await g.gateway.shutdown(0);
      }
    });

    test('a hard budget under 50 concurrent requests, each able to cost more than what is left: spend never exceeds it, and some are served', async () => {
      // Bound per request: (18 + 100) tokens x $0.0001 = $0.0118; real cost 103 x $0.0001 = $0.0103.
      const slow = await upstreamWith(100, 150);
      const g = await gateway('budget: { usd: 0.05, period: month, mode: hard }', slow);
      try {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => send(g.url, '/v1/chat/completions', chat(100), g.auth)),
        );
        const statuses = results.map((r) => assertResponse(r).status);
        const served = statuses.filter((s) => s === 200).length;
        assert.ok(served >= 1, 'at least one request is served');
        for (const r of results.map(assertResponse).filter((x) => x.status !== 200)) {
          assert.equal(r.status, 429);
          assert.equal(JSON.parse(r.body).error.code, 'insufficient_quota');
        }
        // Later requests: the budget has too little left for one more.
        for (let i = 0; i < 3; i++) await send(g.url, '/v1/chat/completions', chat(100), g.auth);
        const usage = assertResponse(
          await send(
            g.url,
            '/admin/usage?groupBy=key',
            undefined,
            { authorization: `Bearer ${ADMIN}` },
            'GET',
          ),
        );
        const row = JSON.parse(usage.body).rows.find((x: { group: string }) => x.group === g.name);
        assert.ok(row.costUsd <= 0.05, `spent ${row.costUsd} of a $0.05 budget`);
        assert.ok(row.costUsd >= 0.0103, 'the served requests were recorded');
      } finally {
        await g.gateway.shutdown(0);
        await slow.close();
      }
    });

    test('a soft budget serves past its limit and alerts at 50, 80 and 100% once each (log, metrics, webhook)', async () => {
      const g = await gateway('budget: { usd: 0.03, period: day, mode: soft }');
      try {
        for (let i = 0; i < 5; i++) {
          const r = assertResponse(await send(g.url, '/v1/chat/completions', chat(100), g.auth));
          assert.equal(r.status, 200, 'a soft budget never refuses');
        }
        assert.ok(await waitFor(() => webhook.alerts.filter((a) => a.name === g.name).length === 3, 5000));
        const mine = webhook.alerts.filter((a) => a.name === g.name);
        assert.deepEqual(
          mine.map((a) => a.thresholdPercent),
          [50, 80, 100],
        );
        assert.equal(mine[0]?.scope, 'key');
        assert.equal(mine[0]?.mode, 'soft');
        assert.equal(g.log.entries.filter((e) => e.event === 'budget_alert').length, 3);
        const metrics = assertResponse(await send(g.url, '/metrics', undefined, {}, 'GET')).body;
        assert.match(metrics, /switchyard_budget_alerts_total\{scope="key",threshold="100"\} 1/);
        assert.ok(!metrics.includes(g.name), 'no key name in a metric label');
      } finally {
        await g.gateway.shutdown(0);
      }
    });

    test('commitment-first fills the committed provider until its commitment is used, then moves on', async () => {
      const committed = `committed-${randomBytes(3).toString('hex')}`;
      const key = `sk-commit-${randomBytes(8).toString('hex')}`;
      const yaml = `
storage: memory
adminKey: ${ADMIN}
${shared ? 'redis: redis://127.0.0.1:6379' : ''}
providers:
  - { id: payg, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }
  - { id: ${committed}, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1, commitment: { usd: 0.02, period: month } }
models:
  - name: m
    strategy: commitment-first
    deployments:
      - { provider: payg, model: m, priority: 1, price: { input: 100, output: 100 } }
      - { provider: ${committed}, model: m, priority: 2, price: { input: 100, output: 100 } }
keys: [{ name: app, key: ${key} }]
`;
      const g = await gatewayFromYaml(yaml);
      try {
        const served: string[] = [];
        for (let i = 0; i < 4; i++) {
          const r = assertResponse(
            await send(g.url, '/v1/chat/completions', chat(100), { authorization: `Bearer ${key}` }),
          );
          served.push(String(r.headers['x-switchyard-provider']));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // $0.0103 per request: two fill the $0.02 commitment, then pay-as-you-go.
        assert.deepEqual(served, [committed, committed, 'payg', 'payg']);
        const admin = { authorization: `Bearer ${ADMIN}` };
        const list = JSON.parse(
          assertResponse(await send(g.url, '/admin/commitments', undefined, admin, 'GET')).body,
        );
        const status = list.data.find((c: { provider: string }) => c.provider === committed);
        assert.equal(status.kind, 'spend');
        assert.equal(status.committed, 0.02);
        assert.ok(Math.abs(status.used - 0.0206) < 1e-9, `used ${status.used}`);
        assert.equal(status.remaining, 0);
        assert.ok(status.projected >= status.used);
        const requests = JSON.parse(
          assertResponse(await send(g.url, '/admin/requests?limit=4', undefined, admin, 'GET')).body,
        ).data;
        assert.deepEqual(
          requests.map((r: { capacity: string }) => r.capacity),
          ['pay-as-you-go', 'pay-as-you-go', 'commitment', 'commitment'],
        );
      } finally {
        await g.gateway.shutdown(0);
      }
    });
  });
}

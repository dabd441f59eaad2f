/**
 * Redis stopped mid-test: budgets and limits fail closed with a message naming the shared state;
 * requests that need no shared state are still served; it recovers by itself when Redis returns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertResponse,
  completion,
  eventually,
  gatewayFromYaml,
  send,
  startUpstream,
} from '../helpers/raw.ts';
import { startOwnRedis } from '../helpers/redis-server.ts';
import { REDIS } from '../helpers/services.ts';

const BUDGETED = 'sk-outage-budgeted-0001';
const FREE = 'sk-outage-free-0002';
const CHAT = JSON.stringify({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });

describe('Redis outage', REDIS, () => {
  test('hard budgets refuse (503 naming Redis) while it is down, unlimited keys are served, and it recovers when Redis returns', async () => {
    const redis = await startOwnRedis();
    const up = await startUpstream((_req, res) => res.end(completion('ok')));
    const { gateway, url, log } = await gatewayFromYaml(`
storage: memory
redis: ${redis.url}
providers: [{ id: up, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }]
models: [{ name: m, deployments: [{ provider: up, model: m, price: { input: 1, output: 1 } }] }]
keys:
  - { name: budgeted, key: ${BUDGETED}, rpm: 1000, budget: { usd: 100, period: month, mode: hard } }
  - { name: free, key: ${FREE} }
`);
    const ask = (key: string) => send(url, '/v1/chat/completions', CHAT, { authorization: `Bearer ${key}` });
    try {
      assert.equal(assertResponse(await ask(BUDGETED)).status, 200);
      await redis.stop();
      const refused = assertResponse(await ask(BUDGETED));
      assert.equal(refused.status, 503);
      const error = JSON.parse(refused.body).error;
      assert.equal(error.code, 'shared_state_unavailable');
      assert.match(error.message, /Redis \(redis:\)/);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(assertResponse(await ask(FREE)).status, 200, 'a key without limits needs no shared state');
      assert.ok(log.entries.some((e) => e.event === 'shared_state_unavailable'));
      await redis.start();
      const recovered = await eventually(
        async () => assertResponse(await ask(BUDGETED)).status === 200,
        6000,
      );
      assert.ok(recovered, 'served again once Redis is back');
    } finally {
      await gateway.shutdown(0);
      await up.close();
      await redis.stop();
    }
  });
});

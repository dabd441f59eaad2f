/**
 * The admin API's door: every /admin/* route refuses a request without the admin key, with a
 * wrong one and with a client key (401 + WWW-Authenticate), and refuses everything when no
 * adminKey is configured (403 admin_disabled). A refused request changes nothing. /metrics is
 * open unless server.metricsAuth puts it behind the admin key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { ADMIN_KEY, admin, call, chat, createKey, errorOf, expectStatus } from './harness.ts';

const CLIENT_KEY = 'sk-governance-client-0001';

function yaml(sim: SimCloud, extra: string): string {
  return `
storage: memory
${extra}
providers:
  - { id: vllm, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
models:
  - { name: llama, deployments: [{ provider: vllm, model: llama-3.1-8b }] }
teams:
  - { name: research }
keys:
  - { name: app, key: ${CLIENT_KEY} }
`;
}

/** Every admin route with a body that would succeed with the right key. */
const ROUTES: Array<{ method: string; path: string; body?: unknown }> = [
  { method: 'GET', path: '/admin/keys' },
  { method: 'POST', path: '/admin/keys', body: { name: 'sneaky' } },
  { method: 'GET', path: '/admin/keys/KEY_ID' },
  { method: 'PATCH', path: '/admin/keys/KEY_ID', body: { name: 'renamed' } },
  { method: 'DELETE', path: '/admin/keys/KEY_ID' },
  { method: 'GET', path: '/admin/usage?groupBy=key' },
  { method: 'GET', path: '/admin/requests?limit=5' },
  { method: 'GET', path: '/admin/deployments' },
  { method: 'GET', path: '/admin/teams' },
  { method: 'GET', path: '/admin/commitments' },
];

let sim: SimCloud;
before(async () => {
  sim = await startSimCloud({ kind: 'openai-compatible', models: ['llama-3.1-8b'] });
});
after(async () => {
  await sim.close();
});

describe('admin API with an adminKey', () => {
  let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
  let keyId: string;
  let keyPlaintext: string;
  before(async () => {
    gw = await gatewayFromYaml(yaml(sim, `adminKey: ${ADMIN_KEY}`));
    const created = await createKey(gw.url, { name: 'victim' });
    keyId = created.id;
    keyPlaintext = created.key;
  });
  after(async () => {
    await gw.gateway.shutdown(0);
  });

  const attempts: Array<[label: string, headers: Record<string, string>]> = [
    ['no Authorization header', {}],
    ['a wrong admin key', { authorization: `Bearer ${ADMIN_KEY}x` }],
    ['a prefix of the admin key', { authorization: `Bearer ${ADMIN_KEY.slice(0, -1)}` }],
    ['a client key', { authorization: `Bearer ${CLIENT_KEY}` }],
    ['the admin key under another scheme', { authorization: `Basic ${ADMIN_KEY}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ];

  for (const route of ROUTES) {
    for (const [label, headers] of attempts) {
      it(`${route.method} ${route.path} with ${label}: 401 with WWW-Authenticate`, async () => {
        const path = route.path.replace('KEY_ID', keyId);
        const response = await call(gw.url, route.method, path, {
          headers,
          ...(route.body === undefined ? {} : { body: route.body }),
        });
        expectStatus(response, 401);
        assert.match(String(response.headers['www-authenticate']), /^Bearer realm=/);
        assert.equal(errorOf(response).code, 'invalid_api_key');
        assert.ok(!response.body.includes(ADMIN_KEY), 'the 401 never echoes what was sent');
      });
    }
    it(`${route.method} ${route.path} with the admin key: served`, async () => {
      const path = route.path.replace('KEY_ID', keyId);
      const response = await admin(gw.url, route.method, path, route.body);
      assert.ok(response.status < 300, `expected success, got ${response.status} ${response.body}`);
    });
  }

  it('refused writes changed nothing: no key created, the victim neither renamed nor revoked', async () => {
    // The "with the admin key" cases above ran too (they renamed and revoked): check a fresh key.
    const fresh = await createKey(gw.url, { name: 'fresh' });
    for (const [, headers] of attempts) {
      await call(gw.url, 'PATCH', `/admin/keys/${fresh.id}`, { headers, body: { name: 'stolen' } });
      await call(gw.url, 'DELETE', `/admin/keys/${fresh.id}`, { headers });
      await call(gw.url, 'POST', '/admin/keys', { headers, body: { name: 'sneaky-2' } });
    }
    const view = expectStatus(await admin(gw.url, 'GET', `/admin/keys/${fresh.id}`), 200).json as {
      name: string;
      revokedAt: string | null;
    };
    assert.equal(view.name, 'fresh');
    assert.equal(view.revokedAt, null);
    const list = expectStatus(await admin(gw.url, 'GET', '/admin/keys'), 200).json as {
      data: Array<{ name: string }>;
    };
    assert.deepEqual(list.data.map((k) => k.name).sort(), ['app', 'fresh', 'renamed', 'sneaky']);
    expectStatus(await chat(gw.url, fresh.key, 'llama'), 200);
    assert.ok(keyPlaintext.startsWith('sk-sy-'));
  });

  it('the admin key is not a data-plane key', async () => {
    const response = await chat(gw.url, ADMIN_KEY, 'llama');
    expectStatus(response, 401);
    assert.ok(!response.body.includes(ADMIN_KEY));
  });

  it('/metrics is open when server.metricsAuth is not set', async () => {
    const response = await call(gw.url, 'GET', '/metrics');
    expectStatus(response, 200);
    assert.match(response.body, /switchyard_request_log_queue_depth/);
  });
});

describe('admin API without an adminKey', () => {
  let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
  before(async () => {
    gw = await gatewayFromYaml(yaml(sim, ''));
  });
  after(async () => {
    await gw.gateway.shutdown(0);
  });

  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: 403 admin_disabled, with any key or none`, async () => {
      const path = route.path.replace('KEY_ID', 'key_000000000000000000000000');
      const variants: Array<Record<string, string>> = [
        {},
        { authorization: `Bearer ${ADMIN_KEY}` },
        { authorization: 'Bearer ' },
      ];
      for (const headers of variants) {
        const response = await call(gw.url, route.method, path, {
          headers,
          ...(route.body === undefined ? {} : { body: route.body }),
        });
        expectStatus(response, 403);
        assert.equal(errorOf(response).code, 'admin_disabled');
      }
    });
  }

  it('the data plane still serves', async () => {
    expectStatus(await chat(gw.url, CLIENT_KEY, 'llama'), 200);
  });
});

describe('/metrics with server.metricsAuth: true', () => {
  let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
  before(async () => {
    gw = await gatewayFromYaml(yaml(sim, `adminKey: ${ADMIN_KEY}\nserver: { metricsAuth: true }`));
  });
  after(async () => {
    await gw.gateway.shutdown(0);
  });

  it('refuses without the admin key and with a wrong one, serves with it', async () => {
    const none = expectStatus(await call(gw.url, 'GET', '/metrics'), 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    expectStatus(await call(gw.url, 'GET', '/metrics', { key: CLIENT_KEY }), 401);
    expectStatus(await call(gw.url, 'GET', '/metrics', { key: `${ADMIN_KEY}0` }), 401);
    const ok = expectStatus(await call(gw.url, 'GET', '/metrics', { key: ADMIN_KEY }), 200);
    assert.match(ok.body, /switchyard_request_log_queue_depth/);
  });

  it('health and readiness stay open', async () => {
    expectStatus(await call(gw.url, 'GET', '/healthz'), 200);
    expectStatus(await call(gw.url, 'GET', '/readyz'), 200);
  });
});

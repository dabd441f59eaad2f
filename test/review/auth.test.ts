/** Review tests: cloud credentials (token cache, Entra ID) as the gateway uses them. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { type AccessToken, createTokenCache } from '../../src/providers/token-cache.ts';
import { startGateway } from '../../src/server/http.ts';

const T0 = 1_766_000_000_000;
const HOUR = 3_600_000;

function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

describe('token cache', () => {
  test('an early refresh does not hold up callers while the cached token is still valid', async () => {
    let now = T0;
    const pending: ((t: AccessToken) => void)[] = [];
    const fetchToken = () => new Promise<AccessToken>((resolve) => pending.push(resolve));
    const getToken = createTokenCache(fetchToken, 5 * 60_000, () => now);
    const first = getToken();
    pending[0]?.({ token: 'token-1', expiresAtMs: T0 + HOUR });
    assert.equal(await first, 'token-1');
    // Inside the refresh margin, token-1 still valid for 4 minutes; the identity provider is slow.
    now = T0 + HOUR - 4 * 60_000;
    const during = getToken();
    const got = await within(during, 300);
    pending[1]?.({ token: 'token-2', expiresAtMs: now + HOUR });
    await during;
    assert.equal(got, 'token-1', 'the caller waited for the refresh although token-1 was valid');
  });

  test('concurrent callers in the refresh window share one fetch', async () => {
    let now = T0;
    let calls = 0;
    const getToken = createTokenCache(
      async () => {
        calls++;
        return { token: `token-${calls}`, expiresAtMs: now + HOUR };
      },
      5 * 60_000,
      () => now,
    );
    assert.equal(await getToken(), 'token-1');
    now = T0 + HOUR - 60_000;
    const tokens = await Promise.all(Array.from({ length: 20 }, () => getToken()));
    assert.equal(calls, 2);
    // The still-valid token answers while the one shared refresh runs in the background.
    assert.ok(tokens.every((t) => t === 'token-1'));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(await getToken(), 'token-2');
    assert.equal(calls, 2);
  });
});

describe('Entra ID credentials through the gateway', () => {
  test('a failing token endpoint gives a 502 that never quotes the client secret', async () => {
    const SECRET = 'entra-client-secret-do-not-leak';
    const idp: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: 'invalid_client',
            error_description: `AADSTS7000215: bad secret ${SECRET}`,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const idpUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const config = parseConfigText(
      `
storage: memory
providers:
  - id: az
    type: azure-openai
    region: eastus
    endpoint: ${idpUrl}
    apiVersion: v1
    entra: { tenantId: t1, clientId: c1, clientSecret: ${SECRET}, authorityHost: ${idpUrl} }
models: [{ name: m, deployments: [{ provider: az, model: d }] }]
keys: [{ name: app, key: sk-review-auth-0001 }]
`,
      '/tmp/review-auth.yaml',
      {},
    );
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-review-auth-0001', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const text = await res.text();
      assert.equal(res.status, 502);
      assert.ok(res.headers.get('x-request-id'));
      assert.equal(res.headers.get('x-switchyard-attempts'), '1');
      assert.ok(!text.includes(SECRET));
      const body = JSON.parse(text) as { error: { message: string; type: string } };
      assert.equal(body.error.type, 'api_error');
      assert.match(body.error.message, /credentials unavailable/);
    } finally {
      await gw.shutdown(0);
      await new Promise<void>((resolve) => idp.close(() => resolve()));
    }
  });
});

describe('Entra ID credential failure explained', () => {
  test('the 502 for a credential failure lists the attempt (provider/deployment and why), as other 5xx do', async () => {
    const idp: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"temporarily_unavailable"}');
      });
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const idpUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const config = parseConfigText(
      `
storage: memory
providers:
  - id: az-entra
    type: azure-openai
    region: eastus
    endpoint: ${idpUrl}
    apiVersion: v1
    entra: { tenantId: t1, clientId: c1, clientSecret: some-secret-value, authorityHost: ${idpUrl} }
models: [{ name: m, deployments: [{ provider: az-entra, model: dep-1 }] }]
keys: [{ name: app, key: sk-review-auth-0001 }]
`,
      '/tmp/review-auth.yaml',
      {},
    );
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-review-auth-0001', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = (await res.json()) as { error: { message: string } };
      assert.equal(res.status, 502);
      assert.match(body.error.message, /az-entra\/dep-1/);
      assert.equal(res.headers.get('x-switchyard-provider'), 'az-entra');
    } finally {
      await gw.shutdown(0);
      await new Promise<void>((resolve) => idp.close(() => resolve()));
    }
  });
});

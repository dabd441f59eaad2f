/**
 * Data boundaries through the real gateway, in front of simulated clouds: region globs, provider
 * lists, required tags, key AND team; the residency of Bedrock inference profiles (`us.` only
 * inside a boundary covering the whole us geography, `global.` only where `global` is allowed)
 * and of Vertex and Gemini `global` locations; the 403 naming the rule; /v1/models; and the
 * boundary holding while the in-boundary deployment fails, is out of capacity or slow: failover,
 * spillover and hedging never send a byte to the deployment outside it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { ADMIN_KEY, call, chat, errorOf, expectStatus, requestLog } from './harness.ts';

const AWS = { accessKeyId: 'AKIDBOUNDARYTEST', secretAccessKey: 'boundary-test-aws-secret' };
const GEMINI_KEY = 'gemini-boundary-test-key';
const PROJECT = 'boundary-project';
const EMAIL = `sa@${PROJECT}.iam.gserviceaccount.com`;
const CLAUDE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

/** Client keys and their boundaries; each key is named after what it allows. */
const KEYS: Record<string, { key: string; extra: string }> = {
  open: { key: 'sk-boundary-open-000001', extra: '' },
  useast1: { key: 'sk-boundary-useast1-0001', extra: 'boundary: { regions: [us-east-1] }' },
  useast: { key: 'sk-boundary-useast-00001', extra: 'boundary: { regions: ["us-east-*"] }' },
  us: { key: 'sk-boundary-us-000000001', extra: 'boundary: { regions: ["us-*"] }' },
  usglobal: { key: 'sk-boundary-usglobal-001', extra: 'boundary: { regions: ["us-*", global] }' },
  global: { key: 'sk-boundary-global-00001', extra: 'boundary: { regions: [global] }' },
  // Region globs match regardless of case; so does the word global.
  globalcaps: { key: 'sk-boundary-globalcaps-1', extra: 'boundary: { regions: [GLOBAL, US-EAST-1] }' },
  europe: { key: 'sk-boundary-europe-00001', extra: 'boundary: { regions: ["europe-*"] }' },
  zdr: { key: 'sk-boundary-zdr-00000001', extra: 'boundary: { tags: [zdr] }' },
  zdrnt: { key: 'sk-boundary-zdrnt-000001', extra: 'boundary: { tags: [zdr, no-training] }' },
  provider: { key: 'sk-boundary-provider-001', extra: 'boundary: { providers: [eu-b] }' },
  both: { key: 'sk-boundary-both-000001', extra: 'boundary: { regions: ["europe-*"], providers: [onprem] }' },
  // Team eu (regions europe-*) AND the key's own tags.
  teamtags: { key: 'sk-boundary-teamtags-001', extra: 'team: eu, boundary: { tags: [no-training] }' },
};

let bedrock: SimCloud;
let gemini: SimCloud;
let vertex: SimCloud;
let inside: SimCloud;
let outside: SimCloud;
let dir: string;
let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;

before(async () => {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  [bedrock, gemini, vertex, inside, outside] = await Promise.all([
    startSimCloud({ kind: 'bedrock', region: 'us-east-1', aws: AWS }),
    startSimCloud({ kind: 'gemini', apiKeys: [GEMINI_KEY] }),
    startSimCloud({
      kind: 'vertex',
      region: 'global',
      google: { project: PROJECT, serviceAccount: { clientEmail: EMAIL, publicKeyPem: pair.publicKey } },
    }),
    startSimCloud({ kind: 'openai-compatible', label: 'inside' }),
    startSimCloud({ kind: 'openai-compatible', label: 'outside' }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'switchyard-boundaries-'));
  const saFile = join(dir, 'sa.json');
  writeFileSync(
    saFile,
    JSON.stringify({
      type: 'service_account',
      private_key: pair.privateKey,
      client_email: EMAIL,
      token_uri: `${vertex.url}/token`,
    }),
  );
  const keys = Object.entries(KEYS)
    .map(([name, k]) => `  - { name: ${name}, key: ${k.key}${k.extra ? `, ${k.extra}` : ''} }`)
    .join('\n');
  gw = await gatewayFromYaml(`
storage: memory
adminKey: ${ADMIN_KEY}
routing:
  timeouts: { connectMs: 2000, firstByteMs: 15000, idleMs: 15000, totalMs: 30000 }
  retry: { maxAttempts: 3, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 30000 }
providers:
  - { id: bedrock-use1, type: bedrock, region: us-east-1, endpoint: "${bedrock.url}", accessKeyId: ${AWS.accessKeyId}, secretAccessKey: ${AWS.secretAccessKey}, tags: [zdr, no-training] }
  - { id: gemini, type: gemini, region: global, endpoint: "${gemini.url}", apiKey: ${GEMINI_KEY} }
  - { id: vertex-global, type: vertex, region: global, project: ${PROJECT}, endpoint: "${vertex.url}", serviceAccountFile: ${saFile}, tags: [zdr] }
  - { id: eu-a, type: openai-compatible, region: europe-west4, endpoint: ${inside.url}/v1, tags: [zdr, no-training] }
  - { id: eu-b, type: openai-compatible, region: europe-west1, endpoint: ${inside.url}/v1, tags: [zdr] }
  - { id: onprem, type: openai-compatible, region: on-prem, endpoint: ${outside.url}/v1, tags: [zdr, no-training] }
models:
  - { name: claude-regional, deployments: [{ provider: bedrock-use1, model: "${CLAUDE}" }] }
  - { name: claude-us, deployments: [{ provider: bedrock-use1, model: "us.${CLAUDE}" }] }
  - { name: claude-global, deployments: [{ provider: bedrock-use1, model: "global.${CLAUDE}" }] }
  - { name: gemini-flash, deployments: [{ provider: gemini, model: gemini-2.5-flash }] }
  - { name: vertex-flash, deployments: [{ provider: vertex-global, model: gemini-2.5-flash }] }
  - name: mixed
    deployments:
      - { provider: onprem, model: m-mixed, priority: 1 }
      - { provider: eu-b, model: m-mixed, priority: 2 }
      - { provider: eu-a, model: m-mixed, priority: 3 }
  - name: tagged
    deployments:
      - { provider: eu-b, model: m-tagged, priority: 1 }
      - { provider: eu-a, model: m-tagged, priority: 2 }
  - name: failover
    deployments:
      - { provider: eu-a, model: m-failover, priority: 1 }
      - { provider: onprem, model: m-failover, priority: 2 }
  - name: spillover
    deployments:
      - { provider: eu-a, model: m-spillover, priority: 1, rpm: 1 }
      - { provider: onprem, model: m-spillover, priority: 2 }
  - name: hedged
    hedge: { afterMs: 200 }
    deployments:
      - { provider: eu-a, model: m-hedged, priority: 1 }
      - { provider: onprem, model: m-hedged, priority: 2 }
  - name: stream-failover
    deployments:
      - { provider: eu-a, model: m-stream, priority: 1 }
      - { provider: onprem, model: m-stream, priority: 2 }
  - name: embed
    deployments:
      - { provider: onprem, model: m-embed, priority: 1 }
      - { provider: eu-a, model: m-embed, priority: 2 }
teams:
  - { name: eu, boundary: { regions: ["europe-*"] } }
keys:
${keys}
`);
});

after(async () => {
  await gw?.gateway.shutdown(0);
  await Promise.all([bedrock, gemini, vertex, inside, outside].map((s) => s?.close()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const sim of [bedrock, gemini, vertex, inside, outside]) {
    sim.clearFaults();
    sim.clearRequests();
  }
});

const keyOf = (name: keyof typeof KEYS) => KEYS[name]?.key ?? assert.fail(`no key ${name}`);

async function models(name: keyof typeof KEYS): Promise<string[]> {
  const response = expectStatus(await call(gw.url, 'GET', '/v1/models', { key: keyOf(name) }), 200);
  return (response.json as { data: Array<{ id: string }> }).data.map((m) => m.id);
}

describe('residency of Bedrock inference profiles and global locations', () => {
  /** model → the keys that may use it (every other key gets 403 boundary_violation). */
  const table: Array<[model: string, allowed: string[]]> = [
    ['claude-regional', ['open', 'useast1', 'useast', 'us', 'usglobal', 'globalcaps', 'zdr', 'zdrnt']],
    ['claude-us', ['open', 'us', 'usglobal', 'zdr', 'zdrnt']],
    ['claude-global', ['open', 'usglobal', 'global', 'globalcaps', 'zdr', 'zdrnt']],
    ['gemini-flash', ['open', 'usglobal', 'global', 'globalcaps']],
    ['vertex-flash', ['open', 'usglobal', 'global', 'globalcaps', 'zdr']],
  ];
  for (const [model, allowed] of table) {
    it(`${model}: served for ${allowed.join(', ')}; 403 boundary_violation for every other key`, async () => {
      for (const name of Object.keys(KEYS)) {
        const response = await chat(gw.url, keyOf(name), model);
        if (allowed.includes(name)) {
          expectStatus(response, 200);
        } else {
          expectStatus(response, 403);
          assert.equal(errorOf(response).code, 'boundary_violation', `${name} on ${model}`);
        }
      }
    });
  }

  it('the 403 names the rule: the geography of a us. profile, the global scope of a global one', async () => {
    const us = expectStatus(await chat(gw.url, keyOf('useast'), 'claude-us'), 403);
    assert.equal(
      errorOf(us).message,
      `no deployment of claude-us is inside the data boundary: key "useast" boundary: bedrock-use1/us.${CLAUDE} may process data in the us geography (us-east-*, us-west-*), outside boundary.regions [us-east-*]`,
    );
    const global = expectStatus(await chat(gw.url, keyOf('us'), 'claude-global'), 403);
    assert.match(
      errorOf(global).message,
      /may process data in any region \(global\), outside boundary\.regions \[us-\*\]/,
    );
    const gem = expectStatus(await chat(gw.url, keyOf('europe'), 'gemini-flash'), 403);
    assert.match(errorOf(gem).message, /gemini\/gemini-2\.5-flash may process data in any region \(global\)/);
    const tags = expectStatus(await chat(gw.url, keyOf('zdrnt'), 'vertex-flash'), 403);
    assert.match(errorOf(tags).message, /key "zdrnt" boundary: provider vertex-global lacks tag no-training/);
    const provider = expectStatus(await chat(gw.url, keyOf('provider'), 'claude-regional'), 403);
    assert.match(errorOf(provider).message, /provider bedrock-use1 is not in boundary\.providers/);
    // The refusal's record keeps the boundary it was refused under.
    const [record] = await requestLog(gw.url, '?key=useast&model=claude-us&limit=1');
    assert.equal(record?.status, 403);
    assert.equal(record?.errorCode, 'boundary_violation');
    assert.equal(record?.boundary, 'key "useast": regions=us-east-*');
    assert.deepEqual(record?.attempts, []);
    // No request reached a cloud for any refusal.
    assert.equal(bedrock.requests().length, 0);
    assert.equal(gemini.requests().length, 0);
  });

  it('/v1/models lists only models with a deployment inside the boundary', async () => {
    assert.deepEqual(await models('useast'), ['claude-regional']);
    assert.deepEqual(await models('us'), ['claude-regional', 'claude-us']);
    assert.deepEqual(await models('global'), ['claude-global', 'gemini-flash', 'vertex-flash']);
    assert.deepEqual(await models('europe'), [
      'mixed',
      'tagged',
      'failover',
      'spillover',
      'hedged',
      'stream-failover',
      'embed',
    ]);
    expectStatus(await call(gw.url, 'GET', '/v1/models/claude-us', { key: keyOf('useast') }), 404);
    expectStatus(await call(gw.url, 'GET', '/v1/models/claude-us', { key: keyOf('us') }), 200);
  });
});

describe('regions, providers and tags choose among deployments', () => {
  const servedBy = async (name: string, model = 'mixed') => {
    const response = expectStatus(await chat(gw.url, keyOf(name), model), 200);
    return response.headers['x-switchyard-provider'];
  };

  it('without a boundary the first priority serves (on-prem)', async () => {
    assert.equal(await servedBy('open'), 'onprem');
  });
  it('regions europe-*: the first deployment inside (eu-b)', async () => {
    assert.equal(await servedBy('europe'), 'eu-b');
  });
  it('tags: every listed tag is required (eu-b has zdr only, eu-a both)', async () => {
    assert.equal(await servedBy('open', 'tagged'), 'eu-b');
    assert.equal(await servedBy('zdr', 'tagged'), 'eu-b');
    assert.equal(await servedBy('zdrnt', 'tagged'), 'eu-a');
    assert.equal(await servedBy('zdrnt'), 'onprem');
  });
  it('providers [eu-b]: only eu-b', async () => {
    assert.equal(await servedBy('provider'), 'eu-b');
  });
  it('regions AND providers must both match: europe-* with providers [onprem] leaves none', async () => {
    const response = expectStatus(await chat(gw.url, keyOf('both'), 'mixed'), 403);
    assert.equal(errorOf(response).code, 'boundary_violation');
    assert.match(errorOf(response).message, /onprem\/m-mixed may process data in on-prem/);
    assert.match(errorOf(response).message, /provider eu-b is not in boundary\.providers/);
  });
  it("team regions europe-* AND the key's tags [no-training]: eu-a, the only deployment inside both", async () => {
    assert.equal(await servedBy('teamtags'), 'eu-a');
    const [record] = await requestLog(gw.url, '?key=teamtags&limit=1');
    assert.equal(record?.boundary, 'key "teamtags": tags=no-training | team "eu": regions=europe-*');
  });
  it('embeddings obey the boundary too', async () => {
    const response = expectStatus(
      await call(gw.url, 'POST', '/v1/embeddings', {
        key: keyOf('europe'),
        body: { model: 'embed', input: 'hello' },
      }),
      200,
    );
    assert.equal(response.headers['x-switchyard-provider'], 'eu-a');
    assert.equal(outside.requests().length, 0);
  });
});

describe('failover, spillover and hedging never cross the boundary', () => {
  it('baseline: without a boundary, a failing first deployment fails over to on-prem', async () => {
    inside.addFaults([{ kind: 'status', status: 503, times: 'always', match: { model: 'm-failover' } }]);
    const response = expectStatus(await chat(gw.url, keyOf('open'), 'failover'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'onprem');
    assert.equal(outside.requests().length, 1);
  });

  it('with the in-boundary deployment failing (503 always) the client gets 503/502 and on-prem gets nothing', async () => {
    inside.addFaults([{ kind: 'status', status: 503, times: 'always', match: { model: 'm-failover' } }]);
    for (let i = 0; i < 3; i++) {
      const response = await chat(gw.url, keyOf('europe'), 'failover');
      assert.ok([502, 503].includes(response.status), `got ${response.status}: ${response.body}`);
      assert.ok(!errorOf(response).message.includes('onprem'), 'the explanation never mentions on-prem');
    }
    assert.ok(inside.requests().length >= 3, 'the in-boundary deployment was tried');
    assert.equal(outside.requests().length, 0, 'the out-of-boundary deployment received zero requests');
    const records = await requestLog(gw.url, '?key=europe&model=failover&limit=3');
    assert.equal(records.length, 3);
    for (const record of records) {
      assert.equal(record.boundary, 'key "europe": regions=europe-*');
      assert.ok(record.status >= 500);
      assert.ok(record.attempts.length > 0);
      assert.ok(
        record.attempts.every((a) => a.provider === 'eu-a'),
        JSON.stringify(record.attempts),
      );
    }
  });

  it('with the in-boundary deployment throttled (429 always) the client gets 429, on-prem gets nothing', async () => {
    inside.addFaults([
      { kind: 'status', status: 429, retryAfterMs: 100, times: 'always', match: { model: 'm-failover' } },
    ]);
    const response = await chat(gw.url, keyOf('europe'), 'failover');
    assert.equal(response.status, 429, response.body);
    assert.ok(response.headers['retry-after'] !== undefined);
    assert.equal(outside.requests().length, 0);
    // Baseline: without a boundary the throttled deployment spills over to on-prem.
    const open = expectStatus(await chat(gw.url, keyOf('open'), 'failover'), 200);
    assert.equal(open.headers['x-switchyard-provider'], 'onprem');
  });

  it('a stream whose in-boundary deployment fails before its first event is not failed over outside', async () => {
    inside.addFaults([
      { kind: 'stream_error', afterChunks: 0, times: 'always', match: { model: 'm-stream' } },
    ]);
    const response = await call(gw.url, 'POST', '/v1/chat/completions', {
      key: keyOf('europe'),
      body: { model: 'stream-failover', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.ok([502, 503].includes(response.status), `got ${response.status}: ${response.body}`);
    assert.equal(outside.requests().length, 0);
  });

  it('spillover: with the in-boundary deployment at its rpm, nothing spills outside', async () => {
    expectStatus(await chat(gw.url, keyOf('europe'), 'spillover'), 200);
    const response = await chat(gw.url, keyOf('europe'), 'spillover');
    assert.ok(response.status >= 429, `got ${response.status}: ${response.body}`);
    assert.equal(outside.requests().length, 0, 'the out-of-boundary deployment received zero requests');
    const [record] = await requestLog(gw.url, '?key=europe&model=spillover&limit=1');
    assert.equal(record?.boundary, 'key "europe": regions=europe-*');
    assert.ok(record?.attempts.every((a) => a.provider === 'eu-a'));
    // Baseline: without a boundary the same state spills to on-prem.
    const open = expectStatus(await chat(gw.url, keyOf('open'), 'spillover'), 200);
    assert.equal(open.headers['x-switchyard-provider'], 'onprem');
  });

  it('hedging: a slow in-boundary deployment is waited for, no hedge starts outside', async () => {
    inside.addFaults([{ kind: 'delay', ms: 800, match: { model: 'm-hedged' } }]);
    const response = expectStatus(await chat(gw.url, keyOf('europe'), 'hedged'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'eu-a');
    assert.equal(outside.requests().length, 0, 'no hedge went to the out-of-boundary deployment');
    // Baseline: without a boundary the hedge to on-prem starts and wins.
    inside.addFaults([{ kind: 'delay', ms: 800, match: { model: 'm-hedged' } }]);
    const open = expectStatus(await chat(gw.url, keyOf('open'), 'hedged'), 200);
    assert.equal(open.headers['x-switchyard-provider'], 'onprem');
  });
});

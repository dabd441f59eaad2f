/**
 * No secret leaves its place. After traffic through every kind of cloud (working and failing
 * credentials, streams, embeddings, refused keys, wrong admin keys), the database (the SQLite file
 * with its WAL, and a throwaway PostgreSQL database), the operator log (stderr of a spawned
 * `serve`, or the in-memory log of an in-process gateway), /metrics, the admin API's answers and
 * every 4xx/5xx body are searched for every plaintext client key, the admin key and every provider
 * secret configured: none may appear.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { POSTGRES } from '../helpers/services.ts';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../state/pg-harness.ts';
import {
  ADMIN_KEY,
  admin,
  call,
  chat,
  createKey,
  expectStatus,
  type JsonResponse,
  type Served,
  spawnServe,
} from './harness.ts';

/** Provider credentials the clouds accept, and wrong ones configured on purpose. */
const PROVIDER_SECRETS = {
  azureKey: 'azure-secret-good-7f3a91c2',
  azureWrongKey: 'azure-secret-WRONG-55d0e1aa',
  openaiKey: 'sk-openai-secret-good-2b8c4d6e',
  openaiWrongKey: 'sk-openai-secret-WRONG-9e7f1a3b',
  awsSecret: 'aws-secret-access-key-good-0c1d2e3f',
  awsWrongSecret: 'aws-secret-access-key-WRONG-4a5b6c',
  awsSessionToken: 'aws-session-token-good-8899aabbcc',
  geminiKey: 'gemini-api-key-good-1234abcd',
  geminiWrongKey: 'gemini-api-key-WRONG-5678efgh',
  anthropicKey: 'sk-ant-secret-good-abcdef123456',
  entraSecret: 'entra-client-secret-good-q1w2e3',
  entraWrongSecret: 'entra-client-secret-WRONG-r4t5y6',
} as const;
const AWS_KEY_ID = 'AKIDSECRETSTEST01';
const ENTRA = { tenantId: 'tenant-secrets', clientId: 'client-secrets' };

const CLIENT_KEYS = {
  app: 'sk-client-static-app-5e6f7a8b9c',
  team: 'sk-client-static-team-0d1e2f3a4b',
  /** Presented by a client but unknown to the gateway. */
  unknown: 'sk-sy-unknownUnknownUnknownUnknownUnknown0123',
} as const;

interface Sims {
  azure: SimCloud;
  openai: SimCloud;
  bedrock: SimCloud;
  gemini: SimCloud;
  anthropic: SimCloud;
  vertex: SimCloud;
}

/** The configuration, with every secret read from the environment as an operator would. */
function configYaml(sims: Sims, storage: string): string {
  return `
storage: ${storage}
adminKey: \${SY_ADMIN_KEY}
logging: { flushMs: 50 }
routing:
  timeouts: { connectMs: 2000, firstByteMs: 15000, idleMs: 15000, totalMs: 30000 }
  retry: { maxAttempts: 6, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: azure, type: azure-openai, region: eastus, endpoint: "${sims.azure.url}", apiKey: "\${AZURE_KEY}" }
  - { id: azure-bad, type: azure-openai, region: eastus, endpoint: "${sims.azure.url}", apiKey: "\${AZURE_WRONG_KEY}" }
  - id: azure-entra
    type: azure-openai
    region: eastus
    endpoint: "${sims.azure.url}"
    apiVersion: v1
    entra: { tenantId: ${ENTRA.tenantId}, clientId: ${ENTRA.clientId}, clientSecret: "\${ENTRA_SECRET}", authorityHost: "${sims.azure.url}" }
  - id: azure-entra-bad
    type: azure-openai
    region: eastus
    endpoint: "${sims.azure.url}"
    apiVersion: v1
    entra: { tenantId: ${ENTRA.tenantId}, clientId: ${ENTRA.clientId}, clientSecret: "\${ENTRA_WRONG_SECRET}", authorityHost: "${sims.azure.url}" }
  - { id: openai, type: openai, region: us, endpoint: "${sims.openai.url}/v1", apiKey: "\${OPENAI_KEY}" }
  - { id: openai-bad, type: openai, region: us, endpoint: "${sims.openai.url}/v1", apiKey: "\${OPENAI_WRONG_KEY}" }
  - { id: bedrock, type: bedrock, region: us-east-1, endpoint: "${sims.bedrock.url}", accessKeyId: ${AWS_KEY_ID}, secretAccessKey: "\${AWS_SECRET}", sessionToken: "\${AWS_SESSION_TOKEN}" }
  - { id: bedrock-bad, type: bedrock, region: us-east-1, endpoint: "${sims.bedrock.url}", accessKeyId: ${AWS_KEY_ID}, secretAccessKey: "\${AWS_WRONG_SECRET}" }
  - { id: gemini, type: gemini, region: global, endpoint: "${sims.gemini.url}", apiKey: "\${GEMINI_KEY}" }
  - { id: gemini-bad, type: gemini, region: global, endpoint: "${sims.gemini.url}", apiKey: "\${GEMINI_WRONG_KEY}" }
  - { id: anthropic, type: anthropic, region: us, endpoint: "${sims.anthropic.url}", apiKey: "\${ANTHROPIC_KEY}" }
  - { id: vertex, type: vertex, region: europe-west4, project: ${VERTEX_PROJECT}, endpoint: "${sims.vertex.url}", serviceAccountFile: "${SERVICE_ACCOUNTS.good}" }
  - { id: vertex-bad, type: vertex, region: europe-west4, project: ${VERTEX_PROJECT}, endpoint: "${sims.vertex.url}", serviceAccountFile: "${SERVICE_ACCOUNTS.wrong}" }
models:
  - { name: azure, deployments: [{ provider: azure, model: gpt-5-prod }] }
  - { name: entra, deployments: [{ provider: azure-entra, model: gpt-5-prod }] }
  - { name: openai, deployments: [{ provider: openai, model: gpt-5 }] }
  - { name: claude-bedrock, deployments: [{ provider: bedrock, model: "anthropic.claude-sonnet-4-5-20250929-v1:0" }] }
  - { name: gemini, deployments: [{ provider: gemini, model: gemini-2.5-flash }] }
  - { name: claude, deployments: [{ provider: anthropic, model: claude-sonnet-4-5 }] }
  - { name: vertex, deployments: [{ provider: vertex, model: gemini-2.5-flash }] }
  - { name: embed, deployments: [{ provider: openai, model: text-embedding-3-small }] }
  - name: all-bad
    deployments:
      - { provider: azure-bad, model: gpt-5-prod, priority: 1 }
      - { provider: azure-entra-bad, model: gpt-5-prod, priority: 2 }
      - { provider: openai-bad, model: gpt-5, priority: 3 }
      - { provider: bedrock-bad, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", priority: 4 }
      - { provider: gemini-bad, model: gemini-2.5-flash, priority: 5 }
      - { provider: vertex-bad, model: gemini-2.5-flash, priority: 6 }
  - name: bad-then-good
    deployments:
      - { provider: openai-bad, model: gpt-5, priority: 1 }
      - { provider: openai, model: gpt-5, priority: 2 }
teams:
  - { name: research }
keys:
  - { name: app, key: "\${APP_KEY}" }
  - { name: team-app, key: "\${TEAM_KEY}", team: research }
`;
}

const ENV = {
  SY_ADMIN_KEY: ADMIN_KEY,
  AZURE_KEY: PROVIDER_SECRETS.azureKey,
  AZURE_WRONG_KEY: PROVIDER_SECRETS.azureWrongKey,
  ENTRA_SECRET: PROVIDER_SECRETS.entraSecret,
  ENTRA_WRONG_SECRET: PROVIDER_SECRETS.entraWrongSecret,
  OPENAI_KEY: PROVIDER_SECRETS.openaiKey,
  OPENAI_WRONG_KEY: PROVIDER_SECRETS.openaiWrongKey,
  AWS_SECRET: PROVIDER_SECRETS.awsSecret,
  AWS_WRONG_SECRET: PROVIDER_SECRETS.awsWrongSecret,
  AWS_SESSION_TOKEN: PROVIDER_SECRETS.awsSessionToken,
  GEMINI_KEY: PROVIDER_SECRETS.geminiKey,
  GEMINI_WRONG_KEY: PROVIDER_SECRETS.geminiWrongKey,
  ANTHROPIC_KEY: PROVIDER_SECRETS.anthropicKey,
  APP_KEY: CLIENT_KEYS.app,
  TEAM_KEY: CLIENT_KEYS.team,
};

/** Vertex: the service account the sim trusts, and one it does not (its token request fails). */
const VERTEX_PROJECT = 'secrets-project';
const VERTEX_EMAIL = `sa@${VERTEX_PROJECT}.iam.gserviceaccount.com`;
const rsa = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const VERTEX_KEYS = { good: rsa(), wrong: rsa() };
const secretsDir = mkdtempSync(join(tmpdir(), 'switchyard-secrets-sa-'));
const SERVICE_ACCOUNTS = { good: join(secretsDir, 'good.json'), wrong: join(secretsDir, 'wrong.json') };
/** A private key as text the search can find wherever it would be copied: a run of its base64 body. */
const privateKeyText = (pem: string) => pem.split('\n').slice(2, 4).join('');

let sims: Sims;
before(async () => {
  const [azure, openai, bedrock, gemini, anthropic, vertex] = await Promise.all([
    startSimCloud({
      kind: 'azure-openai',
      apiKeys: [PROVIDER_SECRETS.azureKey],
      models: ['gpt-5-prod'],
      entra: { ...ENTRA, clientSecret: PROVIDER_SECRETS.entraSecret },
    }),
    startSimCloud({ kind: 'openai', apiKeys: [PROVIDER_SECRETS.openaiKey] }),
    startSimCloud({
      kind: 'bedrock',
      region: 'us-east-1',
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: PROVIDER_SECRETS.awsSecret },
    }),
    startSimCloud({ kind: 'gemini', apiKeys: [PROVIDER_SECRETS.geminiKey] }),
    startSimCloud({ kind: 'anthropic', apiKeys: [PROVIDER_SECRETS.anthropicKey] }),
    startSimCloud({
      kind: 'vertex',
      region: 'europe-west4',
      google: {
        project: VERTEX_PROJECT,
        serviceAccount: { clientEmail: VERTEX_EMAIL, publicKeyPem: VERTEX_KEYS.good.publicKey },
      },
    }),
  ]);
  sims = { azure, openai, bedrock, gemini, anthropic, vertex };
  for (const which of ['good', 'wrong'] as const) {
    writeFileSync(
      SERVICE_ACCOUNTS[which],
      JSON.stringify({
        type: 'service_account',
        private_key: VERTEX_KEYS[which].privateKey,
        client_email: VERTEX_EMAIL,
        token_uri: `${vertex.url}/token`,
      }),
    );
  }
});
after(async () => {
  await Promise.all(Object.values(sims ?? {}).map((s: SimCloud) => s.close()));
  rmSync(secretsDir, { recursive: true, force: true });
});

/** What the traffic saw: every response, and the plaintext of the keys it created. */
interface Traffic {
  responses: JsonResponse[];
  createdKeys: string[];
}

/** Every kind of request a gateway serves or refuses, with the secrets in play. */
async function driveTraffic(url: string): Promise<Traffic> {
  const responses: JsonResponse[] = [];
  const keep = async (r: Promise<JsonResponse>) => {
    const response = await r;
    responses.push(response);
    return response;
  };
  const used = await createKey(url, { name: 'used', team: 'research' });
  const revoked = await createKey(url, { name: 'revoked' });
  const expired = await createKey(url, { name: 'expired', expiresAt: '2020-01-01T00:00:00Z' });
  const patched = await createKey(url, { name: 'patched' });
  await keep(admin(url, 'PATCH', `/admin/keys/${patched.id}`, { models: ['openai'], rpm: 7 }));

  for (const model of [
    'azure',
    'entra',
    'openai',
    'claude-bedrock',
    'gemini',
    'claude',
    'vertex',
    'bad-then-good',
  ]) {
    expectStatus(await keep(chat(url, CLIENT_KEYS.app, model)), 200);
    const streamed = await keep(
      call(url, 'POST', '/v1/chat/completions', {
        key: used.key,
        body: {
          model,
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: 'stream please' }],
        },
      }),
    );
    expectStatus(streamed, 200);
  }
  expectStatus(
    await keep(
      call(url, 'POST', '/v1/embeddings', {
        key: CLIENT_KEYS.team,
        body: { model: 'embed', input: ['a', 'b'] },
      }),
    ),
    200,
  );
  expectStatus(await keep(chat(url, patched.key, 'openai')), 200);
  // Failing credentials on every cloud: a 502 listing the attempts.
  for (const key of [CLIENT_KEYS.app, CLIENT_KEYS.team, used.key]) {
    const failed = await keep(chat(url, key, 'all-bad'));
    assert.equal(failed.status, 502, failed.body);
  }
  // Refused clients.
  expectStatus(await keep(admin(url, 'DELETE', `/admin/keys/${revoked.id}`)), 200);
  expectStatus(await keep(chat(url, revoked.key, 'openai')), 401);
  expectStatus(await keep(chat(url, expired.key, 'openai')), 401);
  expectStatus(await keep(chat(url, CLIENT_KEYS.unknown, 'openai')), 401);
  expectStatus(await keep(chat(url, patched.key, 'azure')), 403);
  expectStatus(await keep(chat(url, CLIENT_KEYS.app, 'nope')), 404);
  expectStatus(
    await keep(
      call(url, 'POST', '/v1/chat/completions', { key: CLIENT_KEYS.app, body: { model: 'openai' } }),
    ),
    400,
  );
  expectStatus(await keep(call(url, 'GET', '/admin/keys', { key: CLIENT_KEYS.app })), 401);
  expectStatus(await keep(call(url, 'GET', '/admin/keys', { key: `${ADMIN_KEY}-wrong` })), 401);
  expectStatus(await keep(admin(url, 'POST', '/admin/keys', { name: 'app' })), 409);
  // What an operator reads back.
  for (const path of [
    '/admin/keys',
    `/admin/keys/${used.id}`,
    '/admin/requests?limit=1000',
    '/admin/usage?groupBy=key',
    '/admin/usage?groupBy=provider&format=csv',
    '/admin/teams',
    '/admin/deployments',
  ]) {
    expectStatus(await keep(admin(url, 'GET', path)), 200);
  }
  expectStatus(await keep(call(url, 'GET', '/metrics')), 200);
  return { responses, createdKeys: [used.key, revoked.key, expired.key, patched.key] };
}

/** Every secret in play, by a name that says what it is. */
function secretsOf(traffic: Traffic): Array<[name: string, value: string]> {
  return [
    ['admin key', ADMIN_KEY],
    ...Object.entries(PROVIDER_SECRETS),
    ['Vertex service account private key', privateKeyText(VERTEX_KEYS.good.privateKey)],
    ['wrong Vertex service account private key', privateKeyText(VERTEX_KEYS.wrong.privateKey)],
    ...Object.entries(CLIENT_KEYS).map(([name, value]): [string, string] => [`client key ${name}`, value]),
    ...traffic.createdKeys.flatMap(
      (key, i): Array<[string, string]> => [
        [`created key #${i}`, key],
        // The stored prefix is `sk-sy-` and 4 characters; the rest must never be kept.
        [`created key #${i} (secret part)`, key.slice(10)],
      ],
    ),
  ];
}

function assertNoSecret(where: string, text: string, secrets: Array<[string, string]>): void {
  for (const [name, value] of secrets) {
    assert.ok(!text.includes(value), `${where} contains the ${name}`);
  }
}

function assertResponsesClean(traffic: Traffic): void {
  const secrets = secretsOf(traffic);
  const errors = traffic.responses.filter((r) => r.status >= 400);
  assert.ok(errors.length >= 10, 'the traffic had its share of errors');
  for (const response of traffic.responses) {
    const label = `${response.status} ${response.body.slice(0, 60)}`;
    assertNoSecret(`response body (${label})`, response.body, secrets);
    assertNoSecret(`response headers (${label})`, JSON.stringify(response.headers), secrets);
  }
  // The failed-credential 502 names each attempt, generically.
  const badCredentials = traffic.responses.find((r) => r.status === 502);
  assert.match(String(badCredentials?.body), /auth: credentials rejected by the cloud/);
  // Every cloud's wrong credential was tried.
  for (const provider of [
    'azure-bad',
    'azure-entra-bad',
    'openai-bad',
    'bedrock-bad',
    'gemini-bad',
    'vertex-bad',
  ]) {
    assert.match(String(badCredentials?.body), new RegExp(`${provider}/\\S+: failed`));
  }
}

function rawFiles(path: string): string {
  return [path, `${path}-wal`, `${path}-shm`]
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

describe('SQLite and a spawned serve', () => {
  let dir: string;
  let served: Served | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-secrets-'));
  });
  after(async () => {
    if (served && served.child.exitCode === null) {
      served.child.kill('SIGKILL');
      await served.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('no secret in the SQLite file and WAL, stderr, stdout, /metrics, admin answers or any error body', async () => {
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(configFile, configYaml(sims, 'sqlite:./data/switchyard.db'));
    served = await spawnServe(configFile, ENV);
    const traffic = await driveTraffic(served.url);
    assertResponsesClean(traffic);
    const secrets = secretsOf(traffic);
    const db = join(dir, 'data', 'switchyard.db');
    // While running: the WAL holds the recent writes.
    const running = rawFiles(db);
    assert.ok(running.includes('used'), 'the dump holds the key names: it is the right file');
    assertNoSecret('the SQLite file (running)', running, secrets);

    served.child.kill('SIGTERM');
    assert.equal(await served.exited, 0, served.stderr());
    const stopped = rawFiles(db);
    assert.ok(stopped.includes('all-bad'), 'the request records were flushed');
    assertNoSecret('the SQLite file (stopped)', stopped, secrets);
    assert.match(
      served.stderr(),
      /upstream_credentials_failed/,
      'the operator log has the credential failures',
    );
    assertNoSecret('stderr', served.stderr(), secrets);
    assertNoSecret('stdout', served.stdout(), secrets);
  });
});

describe('PostgreSQL and the in-process operator log', POSTGRES, () => {
  let db: ThrowawayDatabase;
  before(async () => {
    db = await createThrowawayDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('no secret in any table, the operator log, /metrics, admin answers or any error body', async () => {
    const withEnv = configYaml(sims, db.url).replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const value = ENV[name as keyof typeof ENV];
      assert.ok(value !== undefined, name);
      return value;
    });
    const gw = await gatewayFromYaml(withEnv);
    let traffic: Traffic;
    try {
      traffic = await driveTraffic(gw.url);
    } finally {
      await gw.gateway.shutdown(0);
    }
    assertResponsesClean(traffic);
    const secrets = secretsOf(traffic);
    const dump = await db.dump();
    assert.ok(dump.includes('all-bad') && dump.includes('"revoked"'), 'the dump holds records and keys');
    assertNoSecret('the PostgreSQL dump', dump, secrets);
    const log = JSON.stringify(gw.log.entries);
    assert.match(log, /upstream_credentials_failed/);
    assertNoSecret('the operator log', log, secrets);
  });
});

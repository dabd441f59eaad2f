/**
 * The two Google front doors wired up: URLs (regional, global, multi-region, endpoint override),
 * the Gemini API key header, the Vertex service-account flow (JWT signed here, exchanged at the key
 * file's token_uri, cached, one refresh at a time), embeddings bodies, and secrets kept out of errors.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { ChatRequest } from '../../src/core/chat.ts';
import { createGeminiProvider } from '../../src/providers/gemini/index.ts';
import { type Provider, UpstreamError } from '../../src/providers/types.ts';
import {
  CLOUD_PLATFORM_SCOPE,
  createServiceAccountTokenSource,
  fetchServiceAccountToken,
  parseServiceAccount,
  signAssertion,
} from '../../src/providers/vertex/auth.ts';
import { createVertexProvider, vertexOrigin } from '../../src/providers/vertex/index.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { TEST_CALL, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const keys = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const { privateKey, publicKey } = keys();
const EMAIL = 'gw@unit-project.iam.gserviceaccount.com';
const PROJECT = 'unit-project';

const request = (stream = false): ChatRequest => ({
  model: 'm',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  stream,
  includeUsage: false,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
});

let sim: SimCloud;
let dir: string;
let keyFile: string;

async function writeKeyFile(name: string, fields: Record<string, unknown>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(fields));
  return path;
}

before(async () => {
  sim = await startSimCloud({
    kind: 'vertex',
    google: { project: PROJECT, serviceAccount: { clientEmail: EMAIL, publicKeyPem: publicKey } },
  });
  dir = await mkdtemp(join(tmpdir(), 'switchyard-google-unit-'));
  keyFile = await writeKeyFile('sa.json', {
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: 'kid-1',
    private_key: privateKey,
    client_email: EMAIL,
    token_uri: `${sim.url}/token`,
  });
});
after(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

function vertex(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Provider {
  return createVertexProvider(
    {
      id: 'p-vertex',
      type: 'vertex',
      region: 'europe-west4',
      tags: [],
      project: PROJECT,
      serviceAccountFile: keyFile,
      ...overrides,
    } as Parameters<typeof createVertexProvider>[0],
    { ...TEST_PROVIDER_CONTEXT, env },
  );
}

const tokenRequests = () => sim.requests().filter((r) => r.path === '/token').length;

describe('vertex service-account auth', () => {
  it('the assertion: RS256 with kid, iss/sub = client_email, aud = token_uri, cloud-platform scope, one hour', async () => {
    const account = parseServiceAccount(
      await import('node:fs/promises').then((fs) => fs.readFile(keyFile, 'utf8')),
      'f',
    );
    const jwt = await signAssertion(account, 1_700_000_000);
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
    const { payload } = await jwtVerify(jwt, createPublicKey(publicKey), {
      currentDate: new Date(1_700_000_100_000),
    });
    assert.deepEqual(payload, {
      scope: CLOUD_PLATFORM_SCOPE,
      iss: EMAIL,
      sub: EMAIL,
      aud: `${sim.url}/token`,
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
  });

  it('exchanges the assertion at token_uri; tokens are cached and fetched once under concurrency', async () => {
    sim.clearRequests();
    const token = createServiceAccountTokenSource(keyFile);
    const tokens = await Promise.all(Array.from({ length: 8 }, () => token()));
    assert.equal(new Set(tokens).size, 1);
    assert.match(tokens[0] ?? '', /^ya29\./);
    assert.equal(await token(), tokens[0]);
    assert.equal(tokenRequests(), 1);
    const form = sim.requests().find((r) => r.path === '/token')?.body as Record<string, string>;
    assert.equal(form.grant_type, 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    assert.equal(form.assertion, '[redacted]', 'the sim records no assertion either');
  });

  it('a refused assertion names the endpoint and the OAuth error, never the key', async () => {
    const other = keys();
    const account = { clientEmail: EMAIL, privateKey: other.privateKey, tokenUri: `${sim.url}/token` };
    await assert.rejects(fetchServiceAccountToken(account), (err: Error) => {
      assert.match(
        err.message,
        /refused gw@unit-project.iam.gserviceaccount.com: invalid_grant \(Invalid JWT Signature\.\)/,
      );
      assert.ok(
        !err.message.includes('PRIVATE KEY') && !err.message.includes(other.privateKey.slice(40, 80)),
      );
      return true;
    });
  });

  it('key-file problems are named: unreadable, not JSON, wrong type, missing fields, bad key', async () => {
    const missing = join(dir, 'nope.json');
    await assert.rejects(
      createServiceAccountTokenSource(missing)(),
      /nope\.json could not be read \(ENOENT\)/,
    );
    assert.throws(
      () => parseServiceAccount('{', 'the file f'),
      /the file f is not a JSON service-account key file/,
    );
    assert.throws(
      () => parseServiceAccount('{"type":"authorized_user"}', 'f'),
      /credentials of type "authorized_user", expected "service_account"/,
    );
    assert.throws(() => parseServiceAccount('{"private_key":"x"}', 'f'), /f has no client_email/);
    assert.throws(() => parseServiceAccount('{"client_email":"a@b"}', 'f'), /f has no private_key/);
    const bad = await writeKeyFile('bad.json', { client_email: EMAIL, private_key: 'not a key' });
    await assert.rejects(
      createServiceAccountTokenSource(bad)(),
      /private_key of gw@unit-project.* is not a PKCS#8 RSA key/,
    );
  });

  it('token_uri defaults to Google when the key file has none', () => {
    const account = parseServiceAccount(JSON.stringify({ client_email: 'a@b', private_key: 'k' }), 'f');
    assert.equal(account.tokenUri, 'https://oauth2.googleapis.com/token');
  });
});

describe('vertex provider', () => {
  it('regional, global and multi-region origins (Gemini API and Vertex AI reference: Vertex AI)', () => {
    assert.equal(vertexOrigin('europe-west4'), 'https://europe-west4-aiplatform.googleapis.com');
    assert.equal(vertexOrigin('global'), 'https://aiplatform.googleapis.com');
    assert.equal(vertexOrigin('eu'), 'https://aiplatform.eu.rep.googleapis.com');
  });

  it('chat URLs, Bearer token from the key file, SSE accept for streams', async () => {
    const provider = vertex();
    const call = await provider.chatCall(request(), { model: 'gemini-2.5-flash' }, TEST_CALL);
    assert.equal(
      call.url,
      `https://europe-west4-aiplatform.googleapis.com/v1/projects/${PROJECT}/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent`,
    );
    assert.match(call.headers.authorization ?? '', /^Bearer ya29\./);
    const stream = await provider.chatCall(request(true), { model: 'gemini-2.5-flash' }, TEST_CALL);
    assert.match(stream.url, /:streamGenerateContent\?alt=sse$/);
    assert.equal(stream.headers.accept, 'text/event-stream');
  });

  it('endpoint replaces the origin; global location; full resource names used as given', async () => {
    const provider = vertex({ endpoint: `${sim.url}/`, region: 'global' });
    const call = await provider.chatCall(request(), { model: 'gemini-2.5-pro@001' }, TEST_CALL);
    assert.equal(
      call.url,
      `${sim.url}/v1/projects/${PROJECT}/locations/global/publishers/google/models/gemini-2.5-pro@001:generateContent`,
    );
    const tuned = await provider.chatCall(
      request(),
      {
        model: 'projects/p/locations/us-central1/endpoints/123',
      },
      TEST_CALL,
    );
    assert.equal(tuned.url, `${sim.url}/v1/projects/p/locations/us-central1/endpoints/123:generateContent`);
  });

  it('GOOGLE_APPLICATION_CREDENTIALS is the fallback; neither is a startup error', async () => {
    const fromEnv = vertex({ serviceAccountFile: undefined }, { GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    const call = await fromEnv.chatCall(request(), { model: 'gemini-2.5-flash' }, TEST_CALL);
    assert.match(call.headers.authorization ?? '', /^Bearer /);
    assert.throws(
      () => vertex({ serviceAccountFile: undefined }),
      /no service account: set serviceAccountFile or/,
    );
  });

  it('a credential failure is an auth failure of the deployment naming the provider and the cause, without secrets', async () => {
    const provider = vertex({ serviceAccountFile: join(dir, 'gone.json') });
    await assert.rejects(
      provider.chatCall(request(), { model: 'gemini-2.5-flash' }, TEST_CALL),
      (err: unknown) => {
        assert.ok(err instanceof UpstreamError);
        assert.equal(err.failure.kind, 'auth');
        assert.match(
          err.message,
          /^Vertex AI credentials unavailable for p-vertex: the service-account file .*gone\.json could not be read/,
        );
        return true;
      },
    );
  });

  it('embeddings use :predict with instances and outputDimensionality; token arrays are refused', async () => {
    const provider = vertex();
    const call = await provider.embeddingsCall?.(
      { model: 'e', input: ['a', 'b'], dimensions: 4, encodingFormat: 'float' },
      { model: 'text-embedding-005' },
    );
    assert.match(call?.url ?? '', /models\/text-embedding-005:predict$/);
    assert.deepEqual(JSON.parse(String(call?.body)), {
      instances: [{ content: 'a' }, { content: 'b' }],
      parameters: { outputDimensionality: 4 },
    });
    await assert.rejects(
      provider.embeddingsCall?.({ model: 'e', input: [[1, 2]], encodingFormat: 'float' }, { model: 'x' }) ??
        Promise.resolve(),
      /input: not supported by Vertex AI \(token-id arrays are not accepted; send text\)/,
    );
    assert.deepEqual(
      provider.decodeEmbeddings?.({
        predictions: [
          { embeddings: { values: [0.5, 0.25], statistics: { token_count: 3, truncated: false } } },
          { embeddings: { values: [1, 0], statistics: { token_count: 2, truncated: false } } },
        ],
      }),
      {
        vectors: [Float32Array.from([0.5, 0.25]), Float32Array.from([1, 0])],
        usage: { promptTokens: 5, totalTokens: 5 },
      },
    );
  });
});

describe('gemini provider', () => {
  const gemini = (endpoint?: string) =>
    createGeminiProvider(
      {
        id: 'p-gemini',
        type: 'gemini',
        region: 'global',
        tags: ['t'],
        apiKey: 'AIza-secret',
        ...(endpoint ? { endpoint } : {}),
      } as Parameters<typeof createGeminiProvider>[0],
      TEST_PROVIDER_CONTEXT,
    );

  it('v1beta URLs with the key in x-goog-api-key, never in the query', async () => {
    const call = await gemini().chatCall(request(true), { model: 'gemini-2.5-flash' }, TEST_CALL);
    assert.equal(
      call.url,
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    assert.equal(call.headers['x-goog-api-key'], 'AIza-secret');
    assert.ok(!call.url.includes('key='));
    const tuned = await gemini('http://127.0.0.1:1/').chatCall(
      request(),
      { model: 'tunedModels/my-model' },
      TEST_CALL,
    );
    assert.equal(tuned.url, 'http://127.0.0.1:1/v1beta/tunedModels/my-model:generateContent');
  });

  it('embeddings use :batchEmbedContents with one request per input', async () => {
    const provider = gemini();
    const call = await provider.embeddingsCall?.(
      { model: 'e', input: ['a', 'b'], encodingFormat: 'base64' },
      { model: 'gemini-embedding-001' },
    );
    assert.match(call?.url ?? '', /\/v1beta\/models\/gemini-embedding-001:batchEmbedContents$/);
    assert.deepEqual(JSON.parse(String(call?.body)), {
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] } },
      ],
    });
    assert.deepEqual(provider.decodeEmbeddings?.({ embeddings: [{ values: [0.5] }, { values: [1] }] }), {
      vectors: [Float32Array.from([0.5]), Float32Array.from([1])],
      usage: { promptTokens: 0, totalTokens: 0 },
    });
  });

  it('identity fields of the provider', () => {
    const provider = gemini();
    assert.deepEqual(
      [provider.id, provider.type, provider.region, provider.cloudName, provider.tags],
      ['p-gemini', 'gemini', 'global', 'Gemini API', ['t']],
    );
  });
});

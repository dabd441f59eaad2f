/**
 * Fidelity of the simulated Azure OpenAI, driven by the official openai SDK's AzureOpenAI client
 * (api-key and Entra ID), and by the plain OpenAI client on the v1 API.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI, { AzureOpenAI } from 'openai';
import { collect, field, postJson, useSim } from './helpers.ts';

const entra = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'secret-1' };
const sim = await useSim({
  kind: 'azure-openai',
  apiKeys: ['az-key-1'],
  models: ['gpt4o-prod', 'emb-small'],
  entra,
  region: 'swedencentral',
});
const apiVersion = '2024-10-21';
const client = new AzureOpenAI({
  endpoint: sim.url,
  apiKey: 'az-key-1',
  apiVersion,
  deployment: 'gpt4o-prod',
  maxRetries: 0,
});
const messages = [{ role: 'user' as const, content: 'hello azure' }];
const expected = 'Hello from simulated Azure OpenAI (gpt4o-prod). You said: hello azure';

async function fetchToken(form: Record<string, string>) {
  const res = await fetch(`${sim.url}/${entra.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}
const goodForm = {
  grant_type: 'client_credentials',
  client_id: entra.clientId,
  client_secret: entra.clientSecret,
  scope: 'https://cognitiveservices.azure.com/.default',
};

describe('azure sim: classic deployment API with api-key', () => {
  it('answers with content-filter annotations and Azure headers', async () => {
    sim.clearRequests();
    const { data, response } = await client.chat.completions
      .create({ model: 'ignored', messages })
      .withResponse();
    assert.equal(data.choices[0]!.message.content, expected);
    const raw = data as unknown as Record<string, unknown>;
    assert.equal(
      field(raw, 'prompt_filter_results', 0, 'content_filter_results', 'hate', 'severity'),
      'safe',
    );
    assert.equal(field(raw, 'choices', 0, 'content_filter_results', 'violence', 'filtered'), false);
    assert.equal(response.headers.get('x-ms-deployment-name'), 'gpt4o-prod');
    assert.equal(response.headers.get('x-ms-region'), 'swedencentral');
    assert.ok(response.headers.get('apim-request-id'));
    assert.equal(response.headers.get('x-ratelimit-reset-requests'), null);
    const recorded = sim.requests().at(-1)!;
    assert.equal(recorded.path, '/openai/deployments/gpt4o-prod/chat/completions');
    assert.equal(recorded.query['api-version'], apiVersion);
    assert.equal(recorded.headers['api-key'], '[redacted]');
  });

  it('routes by the body model when the client has no deployment', async () => {
    const byModel = new AzureOpenAI({ endpoint: sim.url, apiKey: 'az-key-1', apiVersion, maxRetries: 0 });
    const completion = await byModel.chat.completions.create({ model: 'gpt4o-prod', messages });
    assert.equal(completion.choices[0]!.message.content, expected);
    assert.equal(sim.requests().at(-1)!.path, '/openai/deployments/gpt4o-prod/chat/completions');
  });

  it('streams with the empty first chunk (choices: []), which the SDK passes through', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt4o-prod',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const first = chunks[0]! as unknown as Record<string, unknown>;
    assert.deepEqual(first.choices, []);
    assert.equal(first.id, '');
    assert.equal(first.model, '');
    assert.equal(first.created, 0);
    assert.ok(Array.isArray(first.prompt_filter_results));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, expected);
    const contentChunk = chunks.find((c) => c.choices[0]?.delta.content === 'Hello')!;
    assert.equal(field(contentChunk, 'choices', 0, 'content_filter_results', 'sexual', 'severity'), 'safe');
    const finish = chunks.find((c) => c.choices[0]?.finish_reason === 'stop')!;
    assert.deepEqual(field(finish, 'choices', 0, 'content_filter_results'), {});
    assert.equal(chunks.at(-1)!.usage?.total_tokens, 2 + 10);
  });

  it('streams tool-call arguments that reassemble to JSON', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt4o-prod',
        messages: [{ role: 'user', content: 'lookup please' }],
        tools: [
          {
            type: 'function',
            function: {
              name: 'lookup',
              parameters: { type: 'object', properties: { q: { type: 'string' } } },
            },
          },
        ],
        stream: true,
      }),
    );
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((t) => t.function?.arguments ?? '');
    assert.deepEqual(JSON.parse(args.join('')), { q: 'sample' });
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'tool_calls');
  });

  it('[sim:finish=content_filter] is the 400 content_filter error with innererror', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'gpt4o-prod',
        messages: [{ role: 'user', content: 'x [sim:finish=content_filter]' }],
      }),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.code, 'content_filter');
        assert.equal(error.param, 'prompt');
        assert.match(error.message, /content management policy/);
        assert.equal(field(error.error, 'innererror', 'code'), 'ResponsibleAIPolicyViolation');
        assert.equal(field(error.error, 'innererror', 'content_filter_result', 'sexual', 'filtered'), true);
        return true;
      },
    );
  });

  it('a streamed request with a filtered prompt fails with the 400 before any event', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'gpt4o-prod',
        messages: [{ role: 'user', content: '[sim:finish=content_filter]' }],
        stream: true,
      }),
      (error) => error instanceof OpenAI.BadRequestError && error.code === 'content_filter',
    );
  });

  it('429 uses the string code "429" and retry-after / retry-after-ms', async () => {
    sim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 6000 }]);
    await assert.rejects(client.chat.completions.create({ model: 'gpt4o-prod', messages }), (error) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, '429');
      assert.equal(error.type, undefined);
      assert.match(error.message, /Please retry after 6 seconds/);
      assert.equal(error.headers.get('retry-after'), '6');
      assert.equal(error.headers.get('retry-after-ms'), '6000');
      return true;
    });
  });

  it('unknown deployment is DeploymentNotFound (404)', async () => {
    const other = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'az-key-1',
      apiVersion,
      deployment: 'nope',
      maxRetries: 0,
    });
    await assert.rejects(
      other.chat.completions.create({ model: 'nope', messages }),
      (error) => error instanceof OpenAI.NotFoundError && error.code === 'DeploymentNotFound',
    );
  });

  it('a missing api-version is 404 Resource not found; a malformed one is 400', async () => {
    const missing = await postJson(
      `${sim.url}/openai/deployments/gpt4o-prod/chat/completions`,
      { messages },
      { 'api-key': 'az-key-1' },
    );
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { error: { code: '404', message: 'Resource not found' } });
    const bad = await postJson(
      `${sim.url}/openai/deployments/gpt4o-prod/chat/completions?api-version=yesterday`,
      { messages },
      { 'api-key': 'az-key-1' },
    );
    assert.equal(bad.status, 400);
  });

  it('a wrong api-key is 401', async () => {
    const wrong = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'nope',
      apiVersion,
      deployment: 'gpt4o-prod',
      maxRetries: 0,
    });
    await assert.rejects(
      wrong.chat.completions.create({ model: 'gpt4o-prod', messages }),
      (error) => error instanceof OpenAI.AuthenticationError && error.code === '401',
    );
  });

  it('embeddings: SDK default base64 and float agree', async () => {
    const emb = new AzureOpenAI({
      endpoint: sim.url,
      apiKey: 'az-key-1',
      apiVersion,
      deployment: 'emb-small',
      maxRetries: 0,
    });
    const a = await emb.embeddings.create({ model: 'emb-small', input: 'hello' });
    const b = await emb.embeddings.create({
      model: 'emb-small',
      input: 'hello',
      encoding_format: 'float',
      dimensions: 8,
    });
    assert.deepEqual(a.data[0]!.embedding, b.data[0]!.embedding);
    assert.equal(sim.requests().at(-1)!.path, '/openai/deployments/emb-small/embeddings');
  });
});

describe('azure sim: Entra ID', () => {
  it('issues tokens that the AzureOpenAI azureADTokenProvider can use', async () => {
    const token = await fetchToken(goodForm);
    assert.equal(token.status, 200);
    assert.equal(field(token.json, 'token_type'), 'Bearer');
    assert.equal(field(token.json, 'expires_in'), 3599);
    const accessToken = String(field(token.json, 'access_token'));
    const viaEntra = new AzureOpenAI({
      endpoint: sim.url,
      apiVersion,
      deployment: 'gpt4o-prod',
      azureADTokenProvider: async () => accessToken,
      maxRetries: 0,
    });
    const completion = await viaEntra.chat.completions.create({ model: 'gpt4o-prod', messages });
    assert.equal(completion.choices[0]!.message.content, expected);
    assert.equal(sim.requests().at(-1)!.headers.authorization, 'Bearer [redacted]');
    const tokenRequest = sim.requests().find((r) => r.path.endsWith('/oauth2/v2.0/token'))!;
    assert.equal(field(tokenRequest.body, 'client_secret'), '[redacted]');
  });

  it('rejects a wrong secret with an AAD-style 401', async () => {
    const token = await fetchToken({ ...goodForm, client_secret: 'wrong' });
    assert.equal(token.status, 401);
    assert.equal(field(token.json, 'error'), 'invalid_client');
    assert.match(String(field(token.json, 'error_description')), /^AADSTS7000215: /);
    assert.deepEqual(field(token.json, 'error_codes'), [7000215]);
  });

  it('rejects a bad grant, client or scope with 400', async () => {
    assert.equal((await fetchToken({ ...goodForm, grant_type: 'password' })).status, 400);
    assert.equal((await fetchToken({ ...goodForm, client_id: 'other' })).status, 400);
    const scope = await fetchToken({ ...goodForm, scope: 'https://cognitiveservices.azure.com' });
    assert.equal(scope.status, 400);
    assert.equal(field(scope.json, 'error'), 'invalid_scope');
  });

  it('rejects a Bearer token it did not issue', async () => {
    const forged = new AzureOpenAI({
      endpoint: sim.url,
      apiVersion,
      deployment: 'gpt4o-prod',
      azureADTokenProvider: async () => 'forged.token.value',
      maxRetries: 0,
    });
    await assert.rejects(
      forged.chat.completions.create({ model: 'gpt4o-prod', messages }),
      (error) =>
        error instanceof OpenAI.AuthenticationError && /Access token is missing, invalid/.test(error.message),
    );
  });
});

describe('azure sim: v1 API', () => {
  const v1 = new OpenAI({
    apiKey: 'unused',
    baseURL: `${sim.url}/openai/v1`,
    defaultHeaders: { 'api-key': 'az-key-1' },
    maxRetries: 0,
  });

  it('serves chat with body model = deployment name', async () => {
    const completion = await v1.chat.completions.create({ model: 'gpt4o-prod', messages });
    assert.equal(completion.choices[0]!.message.content, expected);
    assert.equal(sim.requests().at(-1)!.path, '/openai/v1/chat/completions');
  });

  it('accepts and ignores api-version', async () => {
    const res = await postJson(
      `${sim.url}/openai/v1/chat/completions?api-version=preview`,
      { model: 'gpt4o-prod', messages },
      { 'api-key': 'az-key-1' },
    );
    assert.equal(res.status, 200);
  });

  it('serves embeddings and models', async () => {
    const emb = await v1.embeddings.create({
      model: 'emb-small',
      input: ['a', 'b'],
      encoding_format: 'float',
    });
    assert.equal(emb.data.length, 2);
    const models = await collect(v1.models.list());
    assert.deepEqual(
      models.map((m) => m.id),
      ['gpt4o-prod', 'emb-small'],
    );
  });

  it('unknown deployment in the body is DeploymentNotFound', async () => {
    await assert.rejects(
      v1.chat.completions.create({ model: 'nope', messages }),
      (error) => error instanceof OpenAI.NotFoundError && error.code === 'DeploymentNotFound',
    );
  });
});

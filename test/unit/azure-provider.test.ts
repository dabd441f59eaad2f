/**
 * Azure OpenAI provider built from configuration: URLs (classic dated path, v1 path), auth headers
 * (api-key, static bearer, Entra ID client credentials against a local token endpoint).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AzureOpenAIProviderConfig, type Config, parseConfigText } from '../../src/config/index.ts';
import type { ChatRequest } from '../../src/core/chat.ts';
import { createAzureOpenAIProvider } from '../../src/providers/azure/index.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { UpstreamError } from '../../src/providers/types.ts';
import { TEST_CALL, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const REQUEST: ChatRequest = {
  model: 'gpt-5',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
  stream: true,
  includeUsage: false,
  tools: [],
  maxTokens: 100,
  maxTokensField: 'max_completion_tokens',
  stop: [],
  openai: { passthrough: {} },
};

/** A valid configuration around the given `providers:` items; the one model points at the first. */
function azureConfig(yamlProviders: string, env: NodeJS.ProcessEnv = {}): Config {
  const firstId = /id: ([\w.-]+)/.exec(yamlProviders)?.[1] ?? 'missing';
  const yaml = `providers:
${yamlProviders}
models:
  - name: gpt-5
    deployments:
      - { provider: ${firstId}, model: x }
`;
  return parseConfigText(yaml, '/tmp/x.yaml', env);
}

function azureProvider(config: Config, id: string): AzureOpenAIProviderConfig {
  const found = config.providers.find((p) => p.id === id);
  assert.ok(found && found.type === 'azure-openai', `azure provider ${id}`);
  return found;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

describe('Azure OpenAI: classic dated API', () => {
  const config = azureConfig(
    `  - id: azure-eastus
    type: azure-openai
    region: eastus
    endpoint: https://contoso-eastus.openai.azure.com/
    apiKey: \${AZURE_OPENAI_API_KEY}
    apiVersion: "2024-10-21"
    headers: { x-ms-spillover-deployment: gpt-5-standard }
  - id: azure-default-version
    type: azure-openai
    endpoint: https://contoso.cognitiveservices.azure.com
    apiKey: key-2
  - id: azure-preview
    type: azure-openai
    endpoint: https://contoso.openai.azure.com
    apiKey: key-3
    apiVersion: 2025-04-01-preview`,
    { AZURE_OPENAI_API_KEY: 'azure-key-0123456789' },
  );

  it('chat: /openai/deployments/{deployment}/chat/completions?api-version=..., api-key header, no Authorization', async () => {
    const provider = createProvider(azureProvider(config, 'azure-eastus'), TEST_PROVIDER_CONTEXT);
    assert.equal(provider.type, 'azure-openai');
    assert.equal(provider.region, 'eastus');
    assert.equal(provider.cloudName, 'Azure OpenAI');
    const call = await provider.chatCall(REQUEST, { model: 'gpt-5-prod' }, TEST_CALL);
    assert.equal(call.method, 'POST');
    assert.equal(
      call.url,
      'https://contoso-eastus.openai.azure.com/openai/deployments/gpt-5-prod/chat/completions?api-version=2024-10-21',
    );
    assert.deepEqual(call.headers, {
      ...JSON_HEADERS,
      'x-ms-spillover-deployment': 'gpt-5-standard',
      'api-key': 'azure-key-0123456789',
    });
    assert.deepEqual(JSON.parse(String(call.body)), {
      model: 'gpt-5-prod',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 100,
    });
  });

  it('the deployment name is URL-encoded in the path', async () => {
    const provider = createAzureOpenAIProvider(azureProvider(config, 'azure-eastus'));
    const call = await provider.chatCall(REQUEST, { model: 'gpt 5/prod?x=1#frag' }, TEST_CALL);
    assert.equal(
      call.url,
      'https://contoso-eastus.openai.azure.com/openai/deployments/gpt%205%2Fprod%3Fx%3D1%23frag/chat/completions?api-version=2024-10-21',
    );
  });

  it('embeddings use the same deployment path', async () => {
    const provider = createAzureOpenAIProvider(azureProvider(config, 'azure-eastus'));
    assert.ok(provider.embeddingsCall);
    const call = await provider.embeddingsCall(
      { model: 'text-embedding-3-small', input: ['hi'], encodingFormat: 'float' },
      { model: 'emb-small' },
    );
    assert.equal(
      call.url,
      'https://contoso-eastus.openai.azure.com/openai/deployments/emb-small/embeddings?api-version=2024-10-21',
    );
    assert.equal(call.headers['api-key'], 'azure-key-0123456789');
  });

  it('apiVersion defaults to 2024-10-21; other host names and preview versions work the same', async () => {
    const byDefault = createAzureOpenAIProvider(azureProvider(config, 'azure-default-version'));
    assert.equal(
      (await byDefault.chatCall(REQUEST, { model: 'd' }, TEST_CALL)).url,
      'https://contoso.cognitiveservices.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21',
    );
    const preview = createAzureOpenAIProvider(azureProvider(config, 'azure-preview'));
    assert.equal(
      (await preview.chatCall(REQUEST, { model: 'd' }, TEST_CALL)).url,
      'https://contoso.openai.azure.com/openai/deployments/d/chat/completions?api-version=2025-04-01-preview',
    );
  });
});

describe('Azure OpenAI: v1 API', () => {
  const config = azureConfig(`  - id: azure-v1
    type: azure-openai
    endpoint: https://contoso.openai.azure.com
    apiVersion: v1
    bearerToken: eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.static`);

  it('chat: /openai/v1/chat/completions without api-version, model = deployment name, Bearer auth', async () => {
    const provider = createAzureOpenAIProvider(azureProvider(config, 'azure-v1'));
    const call = await provider.chatCall(REQUEST, { model: 'gpt-5-prod' }, TEST_CALL);
    assert.equal(call.url, 'https://contoso.openai.azure.com/openai/v1/chat/completions');
    assert.deepEqual(call.headers, {
      ...JSON_HEADERS,
      authorization: 'Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.static',
    });
    assert.equal(JSON.parse(String(call.body)).model, 'gpt-5-prod');
  });

  it('embeddings: /openai/v1/embeddings', async () => {
    const provider = createAzureOpenAIProvider(azureProvider(config, 'azure-v1'));
    assert.ok(provider.embeddingsCall);
    const call = await provider.embeddingsCall(
      { model: 'emb', input: ['hi'], encodingFormat: 'base64' },
      { model: 'emb-small' },
    );
    assert.equal(call.url, 'https://contoso.openai.azure.com/openai/v1/embeddings');
    assert.equal(JSON.parse(String(call.body)).model, 'emb-small');
  });
});

describe('Azure OpenAI: Entra ID client credentials (local token endpoint on 127.0.0.1)', () => {
  let server: Server;
  let authority = '';
  const tokenRequests: { path: string; contentType: string | undefined; form: URLSearchParams }[] = [];
  /** What the token endpoint answers next: queue of [status, body]. */
  const answers: [number, unknown][] = [];

  async function readBody(req: IncomingMessage): Promise<string> {
    let text = '';
    for await (const piece of req) text += String(piece);
    return text;
  }

  before(async () => {
    server = createServer(async (req, res) => {
      const form = new URLSearchParams(await readBody(req));
      tokenRequests.push({ path: req.url ?? '', contentType: req.headers['content-type'], form });
      const [status, body] = answers.shift() ?? [500, { error: 'no_answer_queued' }];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    authority = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function entraProvider(id: string) {
    const config = azureConfig(`  - id: ${id}
    type: azure-openai
    endpoint: https://contoso.openai.azure.com
    entra:
      tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
      clientId: 11111111-2222-3333-4444-555555555555
      clientSecret: entra-secret-value
      authorityHost: ${authority}/`);
    return createAzureOpenAIProvider(azureProvider(config, id));
  }

  it('fetches one token for concurrent calls and sends it as Bearer', async () => {
    tokenRequests.length = 0;
    answers.push([
      200,
      { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'entra-token-1' },
    ]);
    const provider = entraProvider('azure-entra');
    const calls = await Promise.all(
      Array.from({ length: 20 }, () => provider.chatCall(REQUEST, { model: 'gpt-5-prod' }, TEST_CALL)),
    );
    for (const call of calls) {
      assert.equal(call.headers.authorization, 'Bearer entra-token-1');
      assert.equal(call.headers['api-key'], undefined);
    }
    assert.equal(tokenRequests.length, 1);
    const [request] = tokenRequests;
    assert.equal(request?.path, '/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token');
    assert.equal(request?.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(request?.form ?? []), {
      grant_type: 'client_credentials',
      client_id: '11111111-2222-3333-4444-555555555555',
      client_secret: 'entra-secret-value',
      scope: 'https://cognitiveservices.azure.com/.default',
    });
  });

  it('a refused token request fails the call as an auth failure of the deployment and is tried again next time', async () => {
    tokenRequests.length = 0;
    answers.push([
      401,
      { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
    ]);
    answers.push([200, { token_type: 'Bearer', expires_in: 3599, access_token: 'entra-token-2' }]);
    const provider = entraProvider('azure-entra-retry');
    await assert.rejects(provider.chatCall(REQUEST, { model: 'd' }, TEST_CALL), (err: unknown) => {
      assert.ok(err instanceof UpstreamError);
      assert.equal(err.failure.kind, 'auth');
      assert.equal(err.failure.retryable, true);
      // The identity provider's error code is kept; its description and the secret are not.
      assert.equal(
        err.message,
        'Azure OpenAI credentials unavailable for azure-entra-retry: Entra ID token request failed: invalid_client',
      );
      assert.doesNotMatch(err.message, /AADSTS|entra-secret-value/);
      return true;
    });
    const call = await provider.chatCall(REQUEST, { model: 'd' }, TEST_CALL);
    assert.equal(call.headers.authorization, 'Bearer entra-token-2');
    assert.equal(tokenRequests.length, 2);
  });
});

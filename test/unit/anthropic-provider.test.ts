/**
 * The Anthropic provider built from configuration (URL, auth and version headers), and the
 * behaviours only visible through the gateway: failover on an `overloaded_error` event before any
 * output, the SSE error after output, refusals that let another deployment serve, the upstream 400
 * passed through, and the simulated Anthropic accepting the golden request as written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type Config, parseConfigText } from '../../src/config/index.ts';
import type { ChatRequest } from '../../src/core/chat.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { fixtureJson, TEST_CALL, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const SECRET = 'sk-ant-api03-secret-value';
const REQUEST: ChatRequest = {
  model: 'claude',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
  stream: false,
  includeUsage: false,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};

/** `${...}` is configuration interpolation here, not a template placeholder. */
const DEFAULT_PROVIDER = `  - { id: a, type: anthropic, apiKey: "\${ANTHROPIC_API_KEY}" }`;

function providerFrom(yamlProvider: string) {
  const config = parseConfigText(
    `providers:\n${yamlProvider}\nmodels:\n  - { name: claude, deployments: [{ provider: a, model: claude-sonnet-4-6 }] }\n`,
    '/tmp/anthropic.yaml',
    { ANTHROPIC_API_KEY: SECRET },
  );
  const found = config.providers[0];
  assert.ok(found);
  return createProvider(found, TEST_PROVIDER_CONTEXT);
}

describe('anthropic provider from configuration', () => {
  it('defaults: public origin, x-api-key, anthropic-version 2023-06-01, no embeddings', async () => {
    const provider = providerFrom(DEFAULT_PROVIDER);
    assert.equal(provider.cloudName, 'Anthropic');
    assert.equal(provider.region, 'global');
    assert.equal(provider.embeddingsCall, undefined);
    const call = await provider.chatCall(REQUEST, { model: 'claude-sonnet-4-6' }, TEST_CALL);
    assert.equal(call.method, 'POST');
    assert.equal(call.url, 'https://api.anthropic.com/v1/messages');
    assert.deepEqual(call.headers, {
      'x-api-key': SECRET,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      accept: 'application/json',
    });
    assert.deepEqual(JSON.parse(String(call.body)), {
      model: 'claude-sonnet-4-6',
      max_tokens: 128_000,
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  it('endpoint override, a pinned version and extra headers (which cannot replace the key)', async () => {
    const provider = providerFrom(
      `  - id: a
    type: anthropic
    region: us
    endpoint: https://anthropic-proxy.internal/
    apiKey: "\${ANTHROPIC_API_KEY}"
    anthropicVersion: "2026-10-21"
    headers: { anthropic-beta: "context-1m-2025-08-07", x-api-key: "not-this" }`,
    );
    const call = await provider.chatCall(
      { ...REQUEST, stream: true },
      { model: 'claude-haiku-4-5' },
      TEST_CALL,
    );
    assert.equal(call.url, 'https://anthropic-proxy.internal/v1/messages');
    assert.equal(call.headers['anthropic-version'], '2026-10-21');
    assert.equal(call.headers['anthropic-beta'], 'context-1m-2025-08-07');
    assert.equal(call.headers['x-api-key'], SECRET);
    assert.equal(call.headers.accept, 'text/event-stream');
    assert.equal(JSON.parse(String(call.body)).stream, true);
  });

  it('never puts the key in a failure message', () => {
    const provider = providerFrom(DEFAULT_PROVIDER);
    const failure = provider.classifyError(
      401,
      {},
      '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
    );
    assert.equal(failure.kind, 'auth');
    assert.ok(!JSON.stringify(failure).includes(SECRET));
  });
});

describe('anthropic through the gateway', () => {
  const KEY = 'sk-gw-anthropic-0001';
  let anthropic: SimCloud;
  let openai: SimCloud;
  let gateway: RunningGateway;
  let client: OpenAI;

  before(async () => {
    anthropic = await startSimCloud({
      kind: 'anthropic',
      apiKeys: ['sk-ant-sim'],
      models: ['claude-sonnet-4-5'],
    });
    openai = await startSimCloud({ kind: 'openai', apiKeys: ['sk-oa-sim'] });
    const config: Config = parseConfigText(
      `
routing:
  timeouts: { connectMs: 2000, firstByteMs: 10000, idleMs: 10000, totalMs: 20000 }
  retry: { maxAttempts: 3, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: p-anthropic, type: anthropic, region: us, endpoint: ${anthropic.url}, apiKey: sk-ant-sim }
  - { id: p-openai, type: openai, region: us, endpoint: ${openai.url}/v1, apiKey: sk-oa-sim }
models:
  - name: claude
    deployments:
      - { provider: p-anthropic, model: claude-sonnet-4-5, priority: 1 }
      - { provider: p-openai, model: gpt-5, priority: 2 }
  - name: claude-only
    deployments: [{ provider: p-anthropic, model: claude-sonnet-4-5 }]
keys:
  - { name: t, key: ${KEY} }
`,
      '/tmp/gw-anthropic.yaml',
      {},
    );
    gateway = await startGateway(config, { port: 0, host: '127.0.0.1' });
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });

  after(async () => {
    await gateway?.shutdown(0);
    await anthropic?.close();
    await openai?.close();
  });

  it('speaks x-api-key and 2023-06-01, and fills max_tokens from the catalog', async () => {
    anthropic.clearRequests();
    await client.chat.completions.create({
      model: 'claude-only',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const recorded = anthropic.requests().at(-1);
    assert.equal(recorded?.headers['x-api-key'], '[redacted]');
    assert.equal(recorded?.headers['anthropic-version'], '2023-06-01');
    assert.equal((recorded?.body as { max_tokens?: number } | undefined)?.max_tokens, 64_000);
  });

  it('an overloaded_error event before any output fails over invisibly', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'claude',
        stream: true,
        messages: [{ role: 'user', content: 'go [sim:stream_error=overloaded_error]' }],
      })
      .withResponse();
    let text = '';
    for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(response.headers.get('x-switchyard-provider'), 'p-openai');
    assert.equal(response.headers.get('x-switchyard-attempts'), '2');
    assert.match(text, /^Hello from simulated OpenAI/);
  });

  it('an error event after output ends the client stream with an error event', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-only',
      stream: true,
      messages: [{ role: 'user', content: '[sim:words=8] [sim:stream_error=overloaded_error@5]' }],
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    }, /overloaded|Overloaded/);
    assert.equal(text, 'word1 word2');
  });

  it('a 529 fails over; a refusal (temperature > 1) lets another deployment serve or is the 400', async () => {
    anthropic.addFaults([{ kind: 'status', status: 529 }]);
    const { response } = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-provider'), 'p-openai');

    const served = await client.chat.completions
      .create({ model: 'claude', temperature: 1.5, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(served.response.headers.get('x-switchyard-provider'), 'p-openai');

    await assert.rejects(
      client.chat.completions.create({
        model: 'claude-only',
        temperature: 1.5,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.param, 'temperature');
        assert.equal(
          err.message,
          '400 temperature: not supported by Anthropic (it accepts 0 to 1, got 1.5; clamping would change the sampling)',
        );
        return true;
      },
    );
  });

  it("Anthropic's own 400 reaches the client with its message", async () => {
    anthropic.addFaults([{ kind: 'status', status: 400, message: 'messages.0.content.0: something is off' }]);
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.message, '400 messages.0.content.0: something is off');
        return true;
      },
    );
  });

  it('the simulated Anthropic accepts the golden request exactly as the encoder wrote it', async () => {
    const body = fixtureJson('anthropic/request-conversation.json') as Record<string, unknown>;
    const res = await fetch(`${anthropic.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-ant-sim',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({ ...body, model: 'claude-sonnet-4-5', stream: false }),
    });
    const answer = (await res.json()) as { content?: { text?: string }[] };
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.match(answer.content?.[0]?.text ?? '', /You said: Thanks\. Be nice\.$/);
  });
});

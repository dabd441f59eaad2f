/** OpenAI-family encoding: ChatRequest → the outgoing chat-completions body, and the HttpCall. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Config, type ProviderConfig, parseConfigText } from '../../src/config/index.ts';
import type { ChatRequest } from '../../src/core/chat.ts';
import { parseChatBody } from '../../src/ingress/openai/chat.ts';
import { encodeChatBody, type OpenAIDialect } from '../../src/providers/openai/encode.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { TEST_CALL, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const MODERN: OpenAIDialect = { legacyMaxTokens: false };
const LEGACY: OpenAIDialect = { legacyMaxTokens: true };

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'gpt-5',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    stream: false,
    includeUsage: false,
    tools: [],
    stop: [],
    openai: { passthrough: {} },
    ...overrides,
  };
}

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  },
};

describe('encodeChatBody', () => {
  it('a minimal request: the provider model name, one string user message, nothing else', () => {
    assert.deepEqual(encodeChatBody(request(), 'gpt-5-2025-08-07', MODERN), {
      model: 'gpt-5-2025-08-07',
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  it('a rich request parsed from a client body becomes the exact upstream body', () => {
    const parsed = parseChatBody({
      model: 'gpt-5',
      stream: true,
      stream_options: { include_usage: false },
      messages: [
        { role: 'developer', content: 'Answer in French.' },
        {
          role: 'system',
          name: 'policy',
          content: [
            { type: 'text', text: 'Be brief.' },
            { type: 'text', text: 'Never guess.' },
          ],
        },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'What is this, and the weather in Paris?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_a1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a1', content: [{ type: 'text', text: '18C, sunny' }] },
        { role: 'assistant', content: '', refusal: 'No.' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [WEATHER],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
      temperature: 0,
      top_p: 0.9,
      max_tokens: 300,
      stop: 'END',
      seed: 7,
      user: 'u-1',
      logprobs: true,
      top_logprobs: 2,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      logit_bias: { '50256': -100 },
      reasoning_effort: 'low',
      service_tier: 'priority',
      metadata: { team: 'research' },
      store: false,
    });
    assert.deepEqual(encodeChatBody(parsed, 'gpt-5-prod', MODERN), {
      model: 'gpt-5-prod',
      messages: [
        { role: 'developer', content: 'Answer in French.' },
        // Text parts of a system message are joined with a newline.
        { role: 'system', content: 'Be brief.\nNever guess.', name: 'policy' },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'What is this, and the weather in Paris?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_a1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a1', content: '18C, sunny' },
        { role: 'assistant', content: null, refusal: 'No.' },
        { role: 'user', content: 'Thanks' },
      ],
      // Usage is always asked for upstream: accounting needs it even when the client did not ask.
      stream: true,
      stream_options: { include_usage: true },
      tools: [WEATHER],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
      temperature: 0,
      top_p: 0.9,
      max_tokens: 300,
      stop: ['END'],
      seed: 7,
      user: 'u-1',
      logprobs: true,
      top_logprobs: 2,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      logit_bias: { '50256': -100 },
      reasoning_effort: 'low',
      service_tier: 'priority',
      metadata: { team: 'research' },
      store: false,
    });
  });

  it('a canonical client body goes upstream unchanged except for the model name', () => {
    const client = {
      model: 'gpt-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '4C' },
      ],
      tools: [WEATHER],
      tool_choice: 'required',
      max_completion_tokens: 100,
      n: 2,
      prompt_cache_key: 'k',
    };
    assert.deepEqual(encodeChatBody(parseChatBody(client), 'gpt-5', MODERN), client);
  });

  it('stream: include_usage true upstream whatever the client asked; no stream keys when not streaming', () => {
    const streamed = encodeChatBody(request({ stream: true, includeUsage: false }), 'm', MODERN);
    assert.equal(streamed.stream, true);
    assert.deepEqual(streamed.stream_options, { include_usage: true });
    const withUsage = encodeChatBody(request({ stream: true, includeUsage: true }), 'm', MODERN);
    assert.deepEqual(withUsage.stream_options, { include_usage: true });
    const plain = encodeChatBody(request(), 'm', MODERN);
    assert.equal('stream' in plain, false);
    assert.equal('stream_options' in plain, false);
  });

  it('max tokens: sent back in the field the client used; the legacy dialect always sends max_tokens', () => {
    const legacyField = request({ maxTokens: 50, maxTokensField: 'max_tokens' });
    const modernField = request({ maxTokens: 60, maxTokensField: 'max_completion_tokens' });
    const noField = request({ maxTokens: 70 });
    const pick = (body: Record<string, unknown>) => ({
      max_tokens: body.max_tokens,
      max_completion_tokens: body.max_completion_tokens,
    });
    assert.deepEqual(pick(encodeChatBody(legacyField, 'm', MODERN)), {
      max_tokens: 50,
      max_completion_tokens: undefined,
    });
    assert.deepEqual(pick(encodeChatBody(modernField, 'm', MODERN)), {
      max_tokens: undefined,
      max_completion_tokens: 60,
    });
    assert.deepEqual(pick(encodeChatBody(noField, 'm', MODERN)), {
      max_tokens: undefined,
      max_completion_tokens: 70,
    });
    // Ollama and older vLLM read only max_tokens.
    assert.deepEqual(pick(encodeChatBody(modernField, 'm', LEGACY)), {
      max_tokens: 60,
      max_completion_tokens: undefined,
    });
    assert.deepEqual(pick(encodeChatBody(legacyField, 'm', LEGACY)), {
      max_tokens: 50,
      max_completion_tokens: undefined,
    });
  });

  it('tool_choice shapes', () => {
    const tools = [{ name: 'f' }];
    const tc = (toolChoice: ChatRequest['toolChoice']) =>
      encodeChatBody(request({ tools, ...(toolChoice ? { toolChoice } : {}) }), 'm', MODERN).tool_choice;
    assert.equal(tc({ type: 'auto' }), 'auto');
    assert.equal(tc({ type: 'none' }), 'none');
    assert.equal(tc({ type: 'required' }), 'required');
    assert.deepEqual(tc({ type: 'function', name: 'f' }), { type: 'function', function: { name: 'f' } });
    assert.equal(tc(undefined), undefined);
  });

  it('tools: optional members only when set; no tools key without tools', () => {
    const body = encodeChatBody(
      request({
        tools: [
          { name: 'bare' },
          { name: 'full', description: 'd', parameters: { type: 'object' }, strict: false },
        ],
      }),
      'm',
      MODERN,
    );
    assert.deepEqual(body.tools, [
      { type: 'function', function: { name: 'bare' } },
      {
        type: 'function',
        function: { name: 'full', description: 'd', parameters: { type: 'object' }, strict: false },
      },
    ]);
    assert.equal('tools' in encodeChatBody(request(), 'm', MODERN), false);
  });

  it('assistant messages: null content with tool calls, text kept beside tool calls, refusal kept', () => {
    const body = encodeChatBody(
      request({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'go' }] },
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }] },
          { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }] },
          {
            role: 'assistant',
            content: [{ type: 'text', text: 'Calling again.' }],
            toolCalls: [{ id: 'c2', name: 'f', arguments: '{}' }],
            name: 'bot',
          },
          { role: 'tool', toolCallId: 'c2', content: [] },
        ],
      }),
      'm',
      MODERN,
    );
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      {
        role: 'assistant',
        content: 'Calling again.',
        tool_calls: [{ id: 'c2', type: 'function', function: { name: 'f', arguments: '{}' } }],
        name: 'bot',
      },
      { role: 'tool', tool_call_id: 'c2', content: '' },
    ]);
  });

  it('user content: one text part is a string; an image alone or several parts stay a list', () => {
    const body = encodeChatBody(
      request({
        messages: [
          { role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,AAAA' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
      }),
      'm',
      MODERN,
    );
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    ]);
  });

  it('response_format text and json_object', () => {
    assert.deepEqual(
      encodeChatBody(request({ responseFormat: { type: 'json_object' } }), 'm', MODERN).response_format,
      {
        type: 'json_object',
      },
    );
    assert.deepEqual(
      encodeChatBody(request({ responseFormat: { type: 'text' } }), 'm', MODERN).response_format,
      {
        type: 'text',
      },
    );
  });
});

describe('OpenAI and OpenAI-compatible providers: the HttpCall', () => {
  const yaml = `providers:
  - id: openai-main
    type: openai
    apiKey: sk-unit-test-0001
    organization: org-123
    project: proj_abc
    headers: { x-team: research }
  - id: local-vllm
    type: openai-compatible
    region: on-prem
    endpoint: http://127.0.0.1:8000/v1/
  - id: ollama
    type: openai-compatible
    endpoint: http://127.0.0.1:11434/v1
    apiKey: ollama-key-1
models:
  - name: gpt-5
    deployments:
      - { provider: openai-main, model: gpt-5 }
`;
  const config: Config = parseConfigText(yaml, '/tmp/switchyard-unit.yaml', {});
  const providerConfig = (id: string): ProviderConfig => {
    const found = config.providers.find((p) => p.id === id);
    assert.ok(found, id);
    return found;
  };

  it('OpenAI: default base URL, Bearer key, organization and project headers, extra headers', async () => {
    const provider = createProvider(providerConfig('openai-main'), TEST_PROVIDER_CONTEXT);
    const call = await provider.chatCall(
      request({ maxTokens: 5, maxTokensField: 'max_tokens' }),
      {
        model: 'gpt-5',
      },
      TEST_CALL,
    );
    assert.equal(call.method, 'POST');
    assert.equal(call.url, 'https://api.openai.com/v1/chat/completions');
    assert.deepEqual(call.headers, {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-team': 'research',
      authorization: 'Bearer sk-unit-test-0001',
      'openai-organization': 'org-123',
      'openai-project': 'proj_abc',
    });
    assert.deepEqual(JSON.parse(String(call.body)), {
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 5,
    });
  });

  it('OpenAI-compatible: endpoint with /v1 (trailing slash trimmed), no auth header without a key, max_tokens', async () => {
    const provider = createProvider(providerConfig('local-vllm'), TEST_PROVIDER_CONTEXT);
    assert.equal(provider.region, 'on-prem');
    const call = await provider.chatCall(
      request({ maxTokens: 9, maxTokensField: 'max_completion_tokens' }),
      {
        model: 'meta-llama/Llama-3.1-8B-Instruct',
      },
      TEST_CALL,
    );
    assert.equal(call.url, 'http://127.0.0.1:8000/v1/chat/completions');
    assert.deepEqual(call.headers, { 'content-type': 'application/json', accept: 'application/json' });
    assert.deepEqual(JSON.parse(String(call.body)), {
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 9,
    });
  });

  it('OpenAI-compatible with a key sends it as Bearer; embeddings go to /embeddings as base64', async () => {
    const provider = createProvider(providerConfig('ollama'), TEST_PROVIDER_CONTEXT);
    const call = await provider.chatCall(request(), { model: 'llama3.1:8b' }, TEST_CALL);
    assert.equal(call.headers.authorization, 'Bearer ollama-key-1');
    assert.ok(provider.embeddingsCall);
    const emb = await provider.embeddingsCall(
      { model: 'emb', input: ['a'], encodingFormat: 'float' },
      { model: 'nomic-embed-text' },
    );
    assert.equal(emb.url, 'http://127.0.0.1:11434/v1/embeddings');
    assert.deepEqual(JSON.parse(String(emb.body)), {
      model: 'nomic-embed-text',
      input: ['a'],
      encoding_format: 'base64',
    });
  });
});

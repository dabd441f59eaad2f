/**
 * Anthropic encoding: a golden request body for a conversation that exercises every translation
 * rule (system extraction, turn merging, tool_result placement, text before tool_use, id
 * sanitising, images, tools and choice), then each rule and each refusal on its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage, ChatRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import type { JsonObject } from '../../src/core/json.ts';
import { modelTraits } from '../../src/providers/anthropic/catalog.ts';
import { encodeMessagesBody } from '../../src/providers/anthropic/encode.ts';
import { fixtureJson, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const BMP = 'data:image/bmp;base64,Qk0eAAAAAAAAABoAAAAMAAAAAQABAAEAGAAAAP8A';
const hi: ChatMessage = { role: 'user', content: [{ type: 'text', text: 'hi' }] };
const weather = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'claude',
    messages: [hi],
    stream: false,
    includeUsage: false,
    tools: [],
    stop: [],
    openai: { passthrough: {} },
    ...overrides,
  };
}

function encode(r: ChatRequest, model = 'claude-sonnet-4-6'): Promise<JsonObject> {
  return encodeMessagesBody(r, {
    model,
    traits: modelTraits(model),
    loadImage: TEST_PROVIDER_CONTEXT.loadImage,
  });
}

/** The 400 an encode must refuse with: status, code, param and exact message. */
async function refusal(r: ChatRequest, param: string, message: string, model?: string): Promise<void> {
  await assert.rejects(encode(r, model), (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'unsupported_parameter');
    assert.equal(err.param, param);
    assert.equal(err.message, message);
    return true;
  });
}

describe('anthropic encode: golden conversation', () => {
  it('matches request-conversation.json', async () => {
    const body = await encode(
      request({
        stream: true,
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture, and the weather?' },
              { type: 'image', url: PNG },
              { type: 'image', url: 'https://example.com/cat.jpg', detail: 'low' },
            ],
          },
          {
            role: 'assistant',
            content: [],
            toolCalls: [
              { id: 'call:1/abc', name: 'get_weather', arguments: '{"city":"Oslo"}' },
              { id: 'call_2', name: 'get_time', arguments: '' },
            ],
          },
          // A second assistant message merges into the first turn; its text must move before the calls.
          { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }], toolCalls: [] },
          { role: 'tool', toolCallId: 'call:1/abc', content: [{ type: 'text', text: 'sunny' }] },
          { role: 'tool', toolCallId: 'call_2', content: [] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Thanks.' },
              { type: 'text', text: '   ' },
            ],
          },
          { role: 'system', content: [{ type: 'text', text: 'Be nice.' }] },
        ],
        tools: [
          {
            ...weather,
            parameters: { ...weather.parameters, additionalProperties: false },
            strict: true,
          },
          { name: 'get_time' },
        ],
        toolChoice: { type: 'auto' },
        parallelToolCalls: false,
        temperature: 0.7,
        topP: 0.9,
        maxTokens: 512,
        stop: ['END'],
        seed: 42,
        user: 'user-1234',
        openai: { passthrough: { store: false } },
      }),
    );
    assert.deepEqual(body, fixtureJson('anthropic/request-conversation.json'));
  });
});

describe('anthropic encode: rules one by one', () => {
  it('max_tokens: the client value, else the catalog default of the deployment model', async () => {
    assert.equal((await encode(request({ maxTokens: 7 }))).max_tokens, 7);
    assert.equal((await encode(request(), 'claude-sonnet-4-5-20250929')).max_tokens, 64_000);
    assert.equal((await encode(request(), 'claude-opus-4-1-20250805')).max_tokens, 32_000);
    assert.equal((await encode(request(), 'my-fine-tune')).max_tokens, 4_096);
  });

  it('a single system text is a string; blank system text is dropped; no stream flag when not streaming', async () => {
    const one = await encode(
      request({ messages: [{ role: 'system', content: [{ type: 'text', text: 'S' }] }, hi] }),
    );
    assert.equal(one.system, 'S');
    assert.equal(one.stream, undefined);
    const blank = await encode(
      request({ messages: [{ role: 'system', content: [{ type: 'text', text: ' ' }] }, hi] }),
    );
    assert.equal(blank.system, undefined);
    assert.deepEqual(blank.messages, [{ role: 'user', content: 'hi' }]);
  });

  it('tool_choice: none, required → any, named → tool, parallel_tool_calls:false on each', async () => {
    const choice = async (r: Partial<ChatRequest>) =>
      (await encode(request({ tools: [weather], ...r }))).tool_choice;
    assert.deepEqual(await choice({ toolChoice: { type: 'none' } }), { type: 'none' });
    assert.deepEqual(await choice({ toolChoice: { type: 'required' } }), { type: 'any' });
    assert.deepEqual(await choice({ toolChoice: { type: 'function', name: 'get_weather' } }), {
      type: 'tool',
      name: 'get_weather',
    });
    assert.deepEqual(await choice({ toolChoice: { type: 'required' }, parallelToolCalls: false }), {
      type: 'any',
      disable_parallel_tool_use: true,
    });
    assert.deepEqual(await choice({ parallelToolCalls: false }), {
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    assert.deepEqual(await choice({ toolChoice: { type: 'none' }, parallelToolCalls: false }), {
      type: 'none',
    });
    assert.equal(await choice({}), undefined);
    // No tools: neither tools nor tool_choice go out.
    const bare = await encode(request({ toolChoice: { type: 'auto' } }));
    assert.equal(bare.tools, undefined);
    assert.equal(bare.tool_choice, undefined);
  });

  it('strict tools keep strict only on models with structured outputs', async () => {
    const strict = [{ ...weather, strict: true }];
    const tools = async (model: string) =>
      (await encode(request({ tools: strict }), model)).tools as JsonObject[];
    assert.equal((await tools('claude-haiku-4-5'))[0]?.strict, true);
    assert.equal((await tools('claude-sonnet-4-20250514'))[0]?.strict, undefined);
  });

  it('user, else safety_identifier, becomes metadata.user_id; seed and OpenAI storage fields are dropped', async () => {
    const body = await encode(
      request({ seed: 1, openai: { passthrough: { safety_identifier: 'h-42', store: true } } }),
    );
    assert.deepEqual(body.metadata, { user_id: 'h-42' });
    assert.equal(body.seed, undefined);
    assert.equal(body.store, undefined);
  });

  it('a tool result followed by user text in one OpenAI turn: results first, then the text', async () => {
    const body = await encode(
      request({
        messages: [
          hi,
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{}' }] },
          { role: 'user', content: [{ type: 'text', text: 'also this' }] },
          { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }] },
        ],
      }),
    );
    const messages = body.messages as JsonObject[];
    assert.deepEqual(messages[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'c1', content: 'ok' },
        { type: 'text', text: 'also this' },
      ],
    });
  });
});

describe('anthropic encode: response_format', () => {
  const schema = {
    type: 'object',
    properties: { answer: { type: 'string' }, score: { type: 'number', minimum: 0 } },
    required: ['answer', 'score'],
  };
  const jsonSchema = { type: 'json_schema' as const, name: 'verdict', schema };

  it('json_schema on a model with structured outputs: native output_config with a closed schema', async () => {
    const body = await encode(request({ responseFormat: jsonSchema }), 'claude-sonnet-4-6');
    assert.deepEqual(body.output_config, {
      format: {
        type: 'json_schema',
        schema: {
          type: 'object',
          properties: { answer: { type: 'string' }, score: { type: 'number', description: '{minimum: 0}' } },
          additionalProperties: false,
          required: ['answer', 'score'],
        },
      },
    });
    assert.equal(body.tools, undefined);
  });

  it('json_schema on an older model: the synthetic json_response tool, forced', async () => {
    const body = await encode(request({ responseFormat: jsonSchema }), 'claude-sonnet-4-20250514');
    assert.deepEqual(body.tools, [
      { name: 'json_response', description: 'Respond with a JSON object.', input_schema: schema },
    ]);
    assert.deepEqual(body.tool_choice, { type: 'tool', name: 'json_response' });
    assert.equal(body.output_config, undefined);
  });

  it('json_object: the synthetic tool with an open object schema; client tools under auto make it "any"', async () => {
    const body = await encode(request({ responseFormat: { type: 'json_object' }, tools: [weather] }));
    assert.deepEqual(
      (body.tools as JsonObject[]).map((t) => [t.name, t.input_schema]),
      [
        ['get_weather', weather.parameters],
        ['json_response', { type: 'object' }],
      ],
    );
    assert.deepEqual(body.tool_choice, { type: 'any' });
  });

  it('the synthetic tool never takes a client tool name; required/named choices ignore response_format', async () => {
    const taken = [{ name: 'json_response' }];
    const body = await encode(
      request({ responseFormat: { type: 'json_object' }, tools: taken, toolChoice: { type: 'none' } }),
    );
    assert.deepEqual(body.tool_choice, { type: 'tool', name: 'json_response_2' });
    const required = await encode(
      request({ responseFormat: jsonSchema, tools: [weather], toolChoice: { type: 'required' } }),
    );
    assert.deepEqual(required.tool_choice, { type: 'any' });
    assert.equal(required.output_config, undefined);
    assert.equal((required.tools as JsonObject[]).length, 1);
  });

  it('a model that refuses forced tool use: native json_schema still works, json_object and required are refused', async () => {
    const body = await encode(request({ responseFormat: jsonSchema }), 'claude-opus-5-5');
    assert.ok(body.output_config);
    await refusal(
      request({ responseFormat: { type: 'json_object' } }),
      'response_format',
      'response_format: not supported by Anthropic (this model refuses forced tool use, so json_object cannot be emulated; send json_schema with a schema)',
      'claude-opus-5-5',
    );
    await refusal(
      request({ tools: [weather], toolChoice: { type: 'required' } }),
      'tool_choice',
      'tool_choice: not supported by Anthropic (this model refuses forced tool use)',
      'claude-fable-5-1',
    );
  });
});

describe('anthropic encode: refusals (400 naming the field and Anthropic)', () => {
  it('n, logprobs, penalties, logit_bias and OpenAI-only passthrough fields', async () => {
    await refusal(
      request({ openai: { n: 2, passthrough: {} } }),
      'n',
      'n: not supported by Anthropic (only one choice per request)',
    );
    await refusal(
      request({ openai: { logprobs: true, passthrough: {} } }),
      'logprobs',
      'logprobs: not supported by Anthropic (no token log-probabilities)',
    );
    await refusal(
      request({ openai: { frequencyPenalty: 0.5, passthrough: {} } }),
      'frequency_penalty',
      'frequency_penalty: not supported by Anthropic (no frequency penalty)',
    );
    await refusal(
      request({ openai: { passthrough: { reasoning_effort: 'high' } } }),
      'reasoning_effort',
      'reasoning_effort: not supported by Anthropic (an OpenAI-only parameter)',
    );
    // Neutral values many clients send by default are not refused.
    await encode(request({ openai: { n: 1, logprobs: false, frequencyPenalty: 0, passthrough: {} } }));
  });

  it('temperature above 1 and whitespace-only stop sequences', async () => {
    await refusal(
      request({ temperature: 1.5 }),
      'temperature',
      'temperature: not supported by Anthropic (it accepts 0 to 1, got 1.5; clamping would change the sampling)',
    );
    assert.equal((await encode(request({ temperature: 1 }))).temperature, 1);
    await refusal(
      request({ stop: ['\n'] }),
      'stop',
      'stop: not supported by Anthropic (stop sequences made only of whitespace are rejected)',
    );
  });

  it('an image type Anthropic cannot read, and a conversation with nothing to send', async () => {
    await refusal(
      request({ messages: [{ role: 'user', content: [{ type: 'image', url: BMP }] }] }),
      'messages[0].content[0].image_url',
      'messages[0].content[0].image_url: not supported by Anthropic (images must be JPEG, PNG, GIF or WebP, got image/bmp)',
    );
    await refusal(
      request({ messages: [{ role: 'system', content: [{ type: 'text', text: 'only a system prompt' }] }] }),
      'messages',
      'messages: not supported by Anthropic (it needs at least one user or assistant message with content)',
    );
  });
});

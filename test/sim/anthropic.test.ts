/**
 * Fidelity of the simulated Anthropic Messages API, driven by the official @anthropic-ai/sdk (1.x:
 * Bearer auth, anthropic-version 2026-10-21) and by plain fetch for the gateway's way of speaking
 * (x-api-key, 2023-06-01) and for wire details the SDK hides (event lines, ping, the empty first
 * input_json_delta).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { field, postJson, useSim } from './helpers.ts';

const KEY = 'sk-ant-sim-key-1';
const MODEL = 'claude-sonnet-4-6';
const sim = await useSim({ kind: 'anthropic', apiKeys: [KEY], models: [MODEL, 'claude-haiku-4-5'] });
const client = new Anthropic({ apiKey: KEY, baseURL: sim.url, maxRetries: 0 });
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city'],
  },
};
const time: Anthropic.Tool = {
  name: 'get_time',
  input_schema: { type: 'object', properties: { zone: { type: 'string' } } },
};

/** Runs a call that must fail and returns the SDK error. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Anthropic.APIError) return err;
    throw err;
  }
  return assert.fail('expected the call to fail');
}

/** The raw SSE frames of a streamed request sent the gateway's way (x-api-key, 2023-06-01). */
async function rawStream(
  body: Record<string, unknown>,
): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${sim.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [eventLine = '', dataLine = '', ...rest] = block.split('\n');
      assert.equal(rest.length, 0, `one event and one data line: ${block}`);
      assert.ok(eventLine.startsWith('event: ') && dataLine.startsWith('data: '), block);
      const data = JSON.parse(dataLine.slice('data: '.length)) as Record<string, unknown>;
      const event = eventLine.slice('event: '.length);
      assert.equal(data.type, event, 'the data type equals the event name');
      return { event, data };
    });
}

describe('anthropic sim: messages.create with the official SDK', () => {
  it('answers text with usage, stop_reason and a request id, accepting the 1.x SDK auth', async () => {
    sim.clearRequests();
    const { data, response } = await client.messages
      .create({
        model: MODEL,
        max_tokens: 100,
        system: 'be brief',
        messages: [{ role: 'user', content: 'hello claude' }],
      })
      .withResponse();
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.match(data.id, /^msg_01/);
    assert.deepEqual(data.content, [
      { type: 'text', text: 'Hello from simulated Anthropic (claude-sonnet-4-6). You said: hello claude' },
    ]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.stop_sequence, null);
    assert.equal(data.usage.input_tokens, 4);
    assert.equal(data.usage.output_tokens, 9);
    assert.equal(data.usage.cache_read_input_tokens, 0);
    assert.match(response.headers.get('request-id') ?? '', /^req_011C/);
    assert.ok(response.headers.get('anthropic-ratelimit-requests-remaining'));
    const recorded = sim.requests().at(-1)!;
    assert.equal(recorded.path, '/v1/messages');
    assert.equal(recorded.headers.authorization, 'Bearer [redacted]');
    assert.match(recorded.headers['anthropic-version'] ?? '', /^\d{4}-\d{2}-\d{2}$/);
  });

  it('accepts x-api-key with anthropic-version 2023-06-01, as the gateway sends', async () => {
    const res = await postJson(
      `${sim.url}/v1/messages`,
      { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
      { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
    );
    assert.equal(res.status, 200);
    assert.equal(field(res.json, 'stop_reason'), 'end_turn');
    assert.equal(sim.requests().at(-1)!.headers['x-api-key'], '[redacted]');
  });

  it('refuses a missing anthropic-version, a wrong key and a missing max_tokens natively', async () => {
    const noVersion = await postJson(
      `${sim.url}/v1/messages`,
      { model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      { 'x-api-key': KEY },
    );
    assert.equal(noVersion.status, 400);
    assert.equal(field(noVersion.json, 'type'), 'error');
    assert.equal(field(noVersion.json, 'error', 'type'), 'invalid_request_error');
    assert.equal(field(noVersion.json, 'error', 'message'), 'anthropic-version: header is required');
    assert.match(String(field(noVersion.json, 'request_id')), /^req_/);

    const wrongKey = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: sim.url, maxRetries: 0 });
    const denied = await apiError(
      wrongKey.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.ok(denied instanceof Anthropic.AuthenticationError);
    assert.equal(denied.type, 'authentication_error');

    const params = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
    const noMax = await apiError(
      client.messages.create(params as unknown as Anthropic.MessageCreateParamsNonStreaming),
    );
    assert.ok(noMax instanceof Anthropic.BadRequestError);
    assert.equal(noMax.apiMessage, 'max_tokens: Field required');
  });

  it('answers 404 not_found_error for an unknown model', async () => {
    const err = await apiError(
      client.messages.create({
        model: 'claude-nope',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    assert.ok(err instanceof Anthropic.NotFoundError);
    assert.equal(err.apiMessage, 'model: claude-nope');
  });

  it('reads image blocks (base64)', async () => {
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_BASE64 } },
          ],
        },
      ],
    });
    const block = data.content[0];
    assert.ok(block?.type === 'text');
    assert.match(block.text, /You said: what is this Saw 1 image\(s\)\.$/);
    assert.equal(data.usage.input_tokens, 3 + 85);
  });

  it('stops on a stop sequence and names it', async () => {
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      stop_sequences: ['You said'],
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(data.stop_reason, 'stop_sequence');
    assert.equal(data.stop_sequence, 'You said');
    const block = data.content[0];
    assert.ok(block?.type === 'text' && !block.text.includes('You said'));
  });

  it('cuts at max_tokens with stop_reason max_tokens', async () => {
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 3,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(data.stop_reason, 'max_tokens');
    assert.equal(data.usage.output_tokens, 3);
  });

  it('signals the content filter with stop_reason refusal', async () => {
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'x [sim:finish=content_filter]' }],
    });
    assert.equal(data.stop_reason, 'refusal');
    assert.deepEqual(data.content, []);
  });

  it('simulates prompt caching: written on first sight, read afterwards, outside input_tokens', async () => {
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      system: [
        { type: 'text', text: 'a long shared preamble of seven words', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'question one' }],
    };
    const first = await client.messages.create(params);
    assert.equal(first.usage.cache_creation_input_tokens, 7);
    assert.equal(first.usage.cache_read_input_tokens, 0);
    assert.equal(first.usage.input_tokens, 2);
    assert.equal(first.usage.cache_creation?.ephemeral_5m_input_tokens, 7);
    const second = await client.messages.create(params);
    assert.equal(second.usage.cache_creation_input_tokens, 0);
    assert.equal(second.usage.cache_read_input_tokens, 7);
    assert.equal(second.usage.input_tokens, 2);
  });

  it('answers structured outputs (output_config.format) and refuses open object schemas', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, score: { type: 'number' } },
      required: ['answer', 'score'],
      additionalProperties: false,
    };
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      output_config: { format: { type: 'json_schema', schema } },
      messages: [{ role: 'user', content: 'judge' }],
    });
    const block = data.content[0];
    assert.ok(block?.type === 'text');
    assert.deepEqual(JSON.parse(block.text), { answer: 'sample', score: 1 });
    const open = await apiError(
      client.messages.create({
        model: MODEL,
        max_tokens: 100,
        output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: {} } } },
        messages: [{ role: 'user', content: 'judge' }],
      }),
    );
    assert.equal(open.status, 400);
    assert.match(open.apiMessage ?? '', /additionalProperties/);
  });
});

describe('anthropic sim: tools', () => {
  it('streams tool_use blocks whose input_json deltas the SDK reassembles (finalMessage)', async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 200,
      tools: [weather, time],
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: 'weather and time' }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const calls = final.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(
      calls.map((c) => [c.name, c.input]),
      [
        ['get_weather', { city: 'sample', days: 1 }],
        ['get_time', { zone: 'sample' }],
      ],
    );
    for (const call of calls) assert.match(call.id, /^toolu_01[A-Za-z0-9]{22}$/);
    assert.ok(final.usage.output_tokens > 0);
  });

  it('honours tool_choice tool and disable_parallel_tool_use', async () => {
    const named = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools: [weather, time],
      tool_choice: { type: 'tool', name: 'get_time' },
      messages: [{ role: 'user', content: 'anything' }],
    });
    assert.deepEqual(
      named.content.map((b) => (b.type === 'tool_use' ? b.name : b.type)),
      ['get_time'],
    );
    const single = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools: [weather, time],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'anything' }],
    });
    assert.equal(single.content.length, 1);
  });

  it('takes tool_result blocks back and answers with their contents', async () => {
    const data = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools: [weather],
      messages: [
        { role: 'user', content: 'weather in Oslo and Bergen?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking both.' },
            { type: 'tool_use', id: 'toolu_oslo', name: 'get_weather', input: { city: 'Oslo' } },
            { type: 'tool_use', id: 'toolu_bergen', name: 'get_weather', input: { city: 'Bergen' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_oslo', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_bergen', content: [{ type: 'text', text: 'rain' }] },
          ],
        },
      ],
    });
    const block = data.content[0];
    assert.ok(block?.type === 'text');
    assert.equal(block.text, 'Tool results: toolu_oslo=sunny; toolu_bergen=rain');
    assert.equal(data.stop_reason, 'end_turn');
  });

  it('enforces pitfall 16: tool_result first, every tool_use answered, no text after tool_use, alternation', async () => {
    const call = { type: 'tool_use' as const, id: 'toolu_a', name: 'get_weather', input: { city: 'Oslo' } };
    const cases: { messages: Anthropic.MessageParam[]; message: RegExp }[] = [
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [call] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'here you go' },
              { type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny' },
            ],
          },
        ],
        message: /^messages\.2\.content\.1: `tool_result` blocks must come first/,
      },
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [call] },
          { role: 'user', content: 'no results' },
        ],
        message:
          /^messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a\./,
      },
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [call] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_zzz', content: 'x' }] },
        ],
        message:
          /^messages\.2\.content\.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_zzz\./,
      },
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [call, { type: 'text', text: 'after' }] },
        ],
        message: /^messages\.1\.content\.1: text blocks cannot follow tool_use blocks/,
      },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ],
        message: /roles must alternate between "user" and "assistant"/,
      },
      {
        messages: [{ role: 'user', content: [{ type: 'text', text: '  ' }] }],
        message: /text content blocks must be non-empty/,
      },
    ];
    for (const { messages, message } of cases) {
      const err = await apiError(
        client.messages.create({ model: MODEL, max_tokens: 50, tools: [weather], messages }),
      );
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.apiMessage ?? '', message);
    }
  });

  it('puts event lines on the wire, pings after the first block, and starts tool input with ""', async () => {
    const frames = await rawStream({
      model: MODEL,
      max_tokens: 200,
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [{ role: 'user', content: 'weather' }],
    });
    const names = frames.map((f) => f.event);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(names.slice(-4), [
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.equal(field(frames[0]?.data, 'message', 'usage', 'output_tokens'), 1);
    assert.equal(field(frames[1]?.data, 'content_block', 'type'), 'tool_use');
    assert.deepEqual(field(frames[1]?.data, 'content_block', 'input'), {});
    assert.equal(field(frames[3]?.data, 'delta', 'partial_json'), '');
    const json = frames
      .filter((f) => f.event === 'content_block_delta')
      .map((f) => String(field(f.data, 'delta', 'partial_json')))
      .join('');
    assert.deepEqual(JSON.parse(json), { city: 'sample', days: 1 });
    const delta = frames.at(-2)?.data;
    assert.equal(field(delta, 'delta', 'stop_reason'), 'tool_use');
    assert.equal(field(delta, 'usage', 'output_tokens'), 4);
  });
});

describe('anthropic sim: streaming text and faults', () => {
  it('streams text deltas that concatenate to the non-streamed answer', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'stream [sim:words=12]' }];
    const whole = await client.messages.create({ model: MODEL, max_tokens: 100, messages });
    let text = '';
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages });
    stream.on('text', (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    const block = whole.content[0];
    assert.ok(block?.type === 'text');
    assert.equal(text, block.text);
    assert.equal(final.usage.output_tokens, 12);
    assert.equal(final.stop_reason, 'end_turn');
  });

  it('429 → RateLimitError with retry-after in whole seconds', async () => {
    sim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 1500 }]);
    const err = await apiError(
      client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.ok(err instanceof Anthropic.RateLimitError);
    assert.equal(err.type, 'rate_limit_error');
    assert.equal(err.headers?.get('retry-after'), '2');
    assert.match(err.requestID ?? '', /^req_/);
  });

  it('529 (and a 503 fault) → OverloadedError; 500 → InternalServerError api_error', async () => {
    for (const status of [529, 503]) {
      sim.addFaults([{ kind: 'status', status }]);
      const err = await apiError(
        client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.ok(err instanceof Anthropic.OverloadedError, `fault ${status}: ${String(err)}`);
      assert.equal(err.status, 529);
      assert.equal(err.type, 'overloaded_error');
    }
    sim.addFaults([{ kind: 'status', status: 500 }]);
    const err = await apiError(
      client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.ok(err instanceof Anthropic.InternalServerError);
    assert.equal(err.type, 'api_error');
  });

  it('an error event mid-stream surfaces as an APIError with the error type', async () => {
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'go [sim:stream_error=overloaded_error@4]' }],
    });
    const seen: string[] = [];
    const err = await apiError(
      (async () => {
        for await (const event of stream) seen.push(event.type);
      })(),
    );
    assert.deepEqual(seen, ['message_start', 'content_block_start', 'content_block_delta']);
    assert.equal(err.status, undefined);
    assert.equal(err.type, 'overloaded_error');
  });

  it('a cut stream ends the SDK iteration with a connection-level error', async () => {
    sim.addFaults([{ kind: 'cut', afterChunks: 3 }]);
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: '[sim:words=20]' }],
    });
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // drain
      }
    });
  });
});

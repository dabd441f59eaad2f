/**
 * Egress: ChatEvents → OpenAI `chat.completion.chunk` SSE frames in OpenAI's order, and the SSE
 * error frame. Frames are parsed back strictly and compared whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import type { ChatEvent, Usage } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import type { CompletionMeta } from '../../src/egress/openai/chat-completion.ts';
import { ChatChunkEncoder } from '../../src/egress/openai/chat-stream.ts';
import { openAIErrorBody, sseErrorFrame } from '../../src/egress/openai/errors.ts';
import { encodeUsage } from '../../src/egress/openai/usage.ts';
import { createChatStreamDecoder } from '../../src/providers/openai/decode.ts';
import { chunksBeforeDone, fixtureBytes, parseSseFrames, runDecoder } from './helpers.ts';

const META: CompletionMeta = { id: 'chatcmpl-gw0001', model: 'gpt-5', created: 1766200000 };
const USAGE: Usage = { promptTokens: 10, completionTokens: 5, totalTokens: 15 };
const USAGE_JSON = {
  prompt_tokens: 10,
  completion_tokens: 5,
  total_tokens: 15,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};

/** Encodes all events in one go and closes the stream. */
function encodeAll(events: ChatEvent[], includeUsage: boolean, meta: CompletionMeta = META): string {
  const encoder = new ChatChunkEncoder(meta, includeUsage);
  return encoder.encode(events) + encoder.end();
}

/** A chunk as the encoder writes it, with `usage: null` when the client asked for usage. */
function chunk(choices: unknown[], includeUsage: boolean): Record<string, unknown> {
  return {
    id: META.id,
    object: 'chat.completion.chunk',
    created: META.created,
    model: META.model,
    choices,
    ...(includeUsage ? { usage: null } : {}),
  };
}

function choice(index: number, delta: Record<string, unknown>, finishReason: string | null = null) {
  return { index, delta, logprobs: null, finish_reason: finishReason };
}

const ROLE = { role: 'assistant', content: '' };

describe('ChatChunkEncoder: OpenAI order', () => {
  const textEvents: ChatEvent[] = [
    { type: 'start', id: 'upstream-id', model: 'upstream-model', created: 1 },
    { type: 'text', choice: 0, text: 'Hel' },
    { type: 'text', choice: 0, text: 'lo' },
    { type: 'finish', choice: 0, reason: 'stop' },
    { type: 'usage', usage: USAGE },
  ];

  it('include_usage: role chunk, deltas, finish, usage chunk with choices [], [DONE]; usage:null before', () => {
    const chunks = chunksBeforeDone(encodeAll(textEvents, true));
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], true),
      chunk([choice(0, { content: 'Hel' })], true),
      chunk([choice(0, { content: 'lo' })], true),
      chunk([choice(0, {}, 'stop')], true),
      {
        id: META.id,
        object: 'chat.completion.chunk',
        created: META.created,
        model: META.model,
        choices: [],
        usage: USAGE_JSON,
      },
    ]);
  });

  it('without include_usage: no usage key at all and no usage chunk, but the usage is kept for accounting', () => {
    const encoder = new ChatChunkEncoder(META, false);
    const text = encoder.encode(textEvents) + encoder.end();
    assert.deepEqual(chunksBeforeDone(text), [
      chunk([choice(0, ROLE)], false),
      chunk([choice(0, { content: 'Hel' })], false),
      chunk([choice(0, { content: 'lo' })], false),
      chunk([choice(0, {}, 'stop')], false),
    ]);
    assert.deepEqual(encoder.reportedUsage, USAGE);
  });

  it('id, created and model are the gateway meta on every chunk, never the upstream values', () => {
    for (const c of chunksBeforeDone(encodeAll(textEvents, true))) {
      assert.equal(c.id, META.id);
      assert.equal(c.created, META.created);
      assert.equal(c.model, META.model);
      assert.equal(c.object, 'chat.completion.chunk');
    }
  });

  it('frames are exactly `data: <json>\\n\\n`, ending with `data: [DONE]\\n\\n`', () => {
    const text = encodeAll(textEvents, false);
    assert.ok(text.startsWith('data: {"id":"chatcmpl-gw0001","object":"chat.completion.chunk"'));
    assert.ok(text.endsWith('\n\ndata: [DONE]\n\n'));
    assert.equal(text.split('\n\n').length - 1, 5);
  });

  it('usage arriving BEFORE the finish (Anthropic/Bedrock style) is still emitted last', () => {
    const events: ChatEvent[] = [
      { type: 'start' },
      { type: 'usage', usage: USAGE },
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'finish', choice: 0, reason: 'length' },
    ];
    assert.deepEqual(chunksBeforeDone(encodeAll(events, true)), [
      chunk([choice(0, ROLE)], true),
      chunk([choice(0, { content: 'Hi' })], true),
      chunk([choice(0, {}, 'length')], true),
      { ...chunk([], false), usage: USAGE_JSON },
    ]);
  });

  it('a later usage event replaces an earlier one (cumulative counts)', () => {
    const events: ChatEvent[] = [
      { type: 'usage', usage: { promptTokens: 10, completionTokens: 1, totalTokens: 11 } },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: USAGE },
    ];
    const chunks = chunksBeforeDone(encodeAll(events, true));
    assert.deepEqual(chunks.at(-1), { ...chunk([], false), usage: USAGE_JSON });
  });

  it('include_usage without any usage from upstream: no usage chunk, still [DONE]', () => {
    const chunks = chunksBeforeDone(encodeAll([{ type: 'finish', choice: 0, reason: 'stop' }], true));
    assert.deepEqual(chunks, [chunk([choice(0, ROLE)], true), chunk([choice(0, {}, 'stop')], true)]);
  });

  it('without a start event the first delta opens the choice with the role chunk', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'text', choice: 0, text: 'x' },
          { type: 'finish', choice: 0, reason: 'stop' },
        ],
        false,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], false),
      chunk([choice(0, { content: 'x' })], false),
      chunk([choice(0, {}, 'stop')], false),
    ]);
  });

  it('encoding event by event gives the same bytes as all at once', () => {
    const whole = encodeAll(textEvents, true);
    const encoder = new ChatChunkEncoder(META, true);
    let pieces = '';
    for (const event of textEvents) pieces += encoder.encode([event]);
    pieces += encoder.end();
    assert.equal(pieces, whole);
  });

  it('logprobs: the text chunk carries {content, refusal: null}', () => {
    const lp = [{ token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [] }];
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'text', choice: 0, text: 'Hi', logprobs: lp },
          { type: 'finish', choice: 0, reason: 'stop' },
        ],
        false,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], false),
      chunk(
        [
          {
            index: 0,
            delta: { content: 'Hi' },
            logprobs: { content: lp, refusal: null },
            finish_reason: null,
          },
        ],
        false,
      ),
      chunk([choice(0, {}, 'stop')], false),
    ]);
  });

  it('refusal deltas', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'start' },
          { type: 'refusal', choice: 0, text: "I can't help" },
          { type: 'finish', choice: 0, reason: 'stop' },
        ],
        false,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], false),
      chunk([choice(0, { refusal: "I can't help" })], false),
      chunk([choice(0, {}, 'stop')], false),
    ]);
  });
});

describe('ChatChunkEncoder: tool calls', () => {
  it('first delta has id/type/name/arguments "", then argument fragments without id', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'start' },
          { type: 'tool_call_start', choice: 0, index: 0, id: 'call_a', name: 'get_weather' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '"Paris"}' },
          { type: 'tool_call_start', choice: 0, index: 1, id: 'call_b', name: 'get_time' },
          { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"tz":"CET"}' },
          { type: 'finish', choice: 0, reason: 'tool_calls' },
        ],
        false,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], false),
      chunk(
        [
          choice(0, {
            tool_calls: [
              { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
            ],
          }),
        ],
        false,
      ),
      chunk([choice(0, { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })], false),
      chunk([choice(0, { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] })], false),
      chunk(
        [
          choice(0, {
            tool_calls: [
              { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          }),
        ],
        false,
      ),
      chunk([choice(0, { tool_calls: [{ index: 1, function: { arguments: '{"tz":"CET"}' } }] })], false),
      chunk([choice(0, {}, 'tool_calls')], false),
    ]);
  });

  it('a call that streamed no arguments gets a "{}" delta just before the finish; empty fragments are dropped', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'tool_call_start', choice: 0, index: 0, id: 'call_a', name: 'list_files' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '' },
          { type: 'tool_call_start', choice: 0, index: 1, id: 'call_b', name: 'read_file' },
          { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"path":"a"}' },
          { type: 'finish', choice: 0, reason: 'tool_calls' },
        ],
        true,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], true),
      chunk(
        [
          choice(0, {
            tool_calls: [
              { index: 0, id: 'call_a', type: 'function', function: { name: 'list_files', arguments: '' } },
            ],
          }),
        ],
        true,
      ),
      chunk(
        [
          choice(0, {
            tool_calls: [
              { index: 1, id: 'call_b', type: 'function', function: { name: 'read_file', arguments: '' } },
            ],
          }),
        ],
        true,
      ),
      chunk([choice(0, { tool_calls: [{ index: 1, function: { arguments: '{"path":"a"}' } }] })], true),
      chunk([choice(0, { tool_calls: [{ index: 0, function: { arguments: '{}' } }] })], true),
      chunk([choice(0, {}, 'tool_calls')], true),
    ]);
  });

  it('an argument delta for a call that never started is dropped', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'start' },
          { type: 'tool_call_delta', choice: 0, index: 3, arguments: '{"orphan":true}' },
          { type: 'finish', choice: 0, reason: 'stop' },
        ],
        false,
      ),
    );
    assert.deepEqual(chunks, [chunk([choice(0, ROLE)], false), chunk([choice(0, {}, 'stop')], false)]);
  });
});

describe('ChatChunkEncoder: n=2 choices interleaved', () => {
  it('each choice opens with its own role chunk and gets its own finish; empty calls close per choice', () => {
    const chunks = chunksBeforeDone(
      encodeAll(
        [
          { type: 'start' },
          { type: 'text', choice: 0, text: 'A' },
          { type: 'tool_call_start', choice: 1, index: 0, id: 'call_1', name: 'noop' },
          { type: 'text', choice: 0, text: 'C' },
          { type: 'finish', choice: 0, reason: 'stop' },
          { type: 'finish', choice: 1, reason: 'tool_calls' },
          { type: 'usage', usage: USAGE },
        ],
        true,
      ),
    );
    assert.deepEqual(chunks, [
      chunk([choice(0, ROLE)], true),
      chunk([choice(0, { content: 'A' })], true),
      chunk([choice(1, ROLE)], true),
      chunk(
        [
          choice(1, {
            tool_calls: [
              { index: 0, id: 'call_1', type: 'function', function: { name: 'noop', arguments: '' } },
            ],
          }),
        ],
        true,
      ),
      chunk([choice(0, { content: 'C' })], true),
      // Choice 0's finish does not close choice 1's call.
      chunk([choice(0, {}, 'stop')], true),
      chunk([choice(1, { tool_calls: [{ index: 0, function: { arguments: '{}' } }] })], true),
      chunk([choice(1, {}, 'tool_calls')], true),
      { ...chunk([], false), usage: USAGE_JSON },
    ]);
  });
});

describe('decoder → encoder round trip on golden fixtures', () => {
  for (const fixture of [
    'openai-text.sse',
    'azure-content-filter.sse',
    'openai-parallel-tools.sse',
    'ollama-tools.sse',
  ]) {
    it(`${fixture}: re-decoding the gateway's own stream gives the same events`, () => {
      const upstream = runDecoder(createChatStreamDecoder(), [fixtureBytes(fixture)]);
      assert.equal(upstream.failure, undefined);
      const sse = encodeAll(upstream.events, true);
      const again = runDecoder(createChatStreamDecoder(), [new TextEncoder().encode(sse)]);
      assert.equal(again.failure, undefined);
      const withoutStart = (events: ChatEvent[]) => events.filter((e) => e.type !== 'start');
      assert.deepEqual(withoutStart(again.events), withoutStart(upstream.events));
      assert.deepEqual(again.events[0], {
        type: 'start',
        id: META.id,
        created: META.created,
        model: META.model,
      });
    });
  }
});

describe('the official openai SDK reads the encoder output', () => {
  /** A client whose fetch answers with `body` and never touches the network. */
  function sdkOver(body: string): OpenAI {
    return new OpenAI({
      apiKey: 'sk-unit',
      baseURL: 'http://127.0.0.1:9/v1',
      maxRetries: 0,
      fetch: async () =>
        new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    });
  }

  it('ChatCompletionStream assembles text, parallel tool calls and usage', async () => {
    const upstream = runDecoder(createChatStreamDecoder(), [fixtureBytes('openai-parallel-tools.sse')]);
    const stream = sdkOver(encodeAll(upstream.events, true)).chat.completions.stream({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'weather?' }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    assert.equal(final.id, META.id);
    assert.equal(final.choices.length, 1);
    const message = final.choices[0]?.message;
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    assert.deepEqual(
      message?.tool_calls?.map((c) =>
        c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : [],
      ),
      [
        ['call_Qd2mV8xPz1LkTy7Rb3Nc9Ws0', 'get_weather', '{"city": "Paris"}'],
        ['call_Hn4kB2sYw9PqLm0Xc7Vd5Tz1', 'get_weather', '{"city": "Oslo"}'],
      ],
    );
    assert.equal(final.usage?.total_tokens, 131);
  });

  it('an error frame mid-stream is raised by the SDK as an APIError', async () => {
    const encoder = new ChatChunkEncoder(META, false);
    const body =
      encoder.encode([{ type: 'text', choice: 0, text: 'partial' }]) +
      sseErrorFrame(
        new GatewayError('upstream_stream_failed', 'the upstream stream failed after it started'),
      );
    const stream = await sdkOver(body).chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && /failed after it started/.test(err.message),
    );
    assert.deepEqual(seen, ['', 'partial']);
  });
});

describe('SSE error frame', () => {
  it('is `event: error` then one data line with the OpenAI error body, and no [DONE]', () => {
    const err = new GatewayError(
      'upstream_stream_failed',
      'the upstream stream from azure-eastus/gpt-5-prod failed after it started: connection reset',
    );
    const text = sseErrorFrame(err);
    assert.equal(
      text,
      'event: error\ndata: {"error":{"message":"the upstream stream from azure-eastus/gpt-5-prod failed after it started: connection reset","type":"api_error","param":null,"code":"upstream_stream_failed"}}\n\n',
    );
    assert.deepEqual(parseSseFrames(text), [
      {
        event: 'error',
        data: JSON.stringify({
          error: {
            message:
              'the upstream stream from azure-eastus/gpt-5-prod failed after it started: connection reset',
            type: 'api_error',
            param: null,
            code: 'upstream_stream_failed',
          },
        }),
      },
    ]);
  });

  it('error bodies carry param, passthrough code/type and extra members (Azure innererror)', () => {
    const innererror = {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: { sexual: { filtered: true } },
    };
    const err = new GatewayError('upstream_client_error', 'filtered', {
      param: 'prompt',
      clientCode: 'content_filter',
      clientType: null,
      extra: { innererror },
    });
    assert.deepEqual(openAIErrorBody(err), {
      error: { message: 'filtered', type: null, param: 'prompt', code: 'content_filter', innererror },
    });
  });
});

describe('encodeUsage', () => {
  it('always has the detail objects; cache writes only when present', () => {
    assert.deepEqual(encodeUsage(USAGE), USAGE_JSON);
    assert.deepEqual(
      encodeUsage({
        promptTokens: 100,
        completionTokens: 40,
        totalTokens: 140,
        cachedTokens: 64,
        cacheWriteTokens: 20,
        reasoningTokens: 30,
      }),
      {
        prompt_tokens: 100,
        completion_tokens: 40,
        total_tokens: 140,
        prompt_tokens_details: { cached_tokens: 64, cache_write_tokens: 20 },
        completion_tokens_details: { reasoning_tokens: 30 },
      },
    );
  });
});

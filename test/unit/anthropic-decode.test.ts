/**
 * Anthropic decoding: golden SSE fixtures fed in many chunkings must give one exact ChatEvent
 * list; non-streaming bodies decode to the same kind of events; stop reasons and usage follow
 * sections 7.1 and 7.3.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent, ChatRequest } from '../../src/core/chat.ts';
import {
  createMessagesStreamDecoder,
  decodeMessage,
  decodeUsage,
  mapStopReason,
} from '../../src/providers/anthropic/decode.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/providers/types.ts';
import { chunkings, fixtureBytes, fixtureJson, runDecoder } from './helpers.ts';

const REQUEST: ChatRequest = {
  model: 'claude',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  stream: true,
  includeUsage: true,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};
const JSON_REQUEST: ChatRequest = { ...REQUEST, responseFormat: { type: 'json_object' } };

const utf8 = (text: string) => new TextEncoder().encode(text);
const sse = (...events: [string, Record<string, unknown>][]) =>
  utf8(
    events
      .map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`)
      .join(''),
  );

/** Every chunking of the fixture gives exactly `expected`, then `failure` (or a clean end). */
function assertGolden(
  fixture: string,
  expected: ChatEvent[],
  options: { request?: ChatRequest; failure?: Partial<UpstreamFailure> } = {},
): void {
  const bytes = fixtureBytes(`anthropic/${fixture}`);
  for (const { name, chunks } of chunkings(bytes)) {
    const outcome = runDecoder(createMessagesStreamDecoder(options.request ?? REQUEST), chunks);
    assert.deepEqual(outcome.events, expected, `${fixture} decoded differently when split ${name}`);
    if (options.failure) {
      assert.ok(outcome.failure, `${fixture} (${name}) should fail`);
      for (const [key, value] of Object.entries(options.failure)) {
        assert.deepEqual(
          outcome.failure[key as keyof UpstreamFailure],
          value,
          `${fixture} (${name}): ${key}`,
        );
      }
    } else {
      assert.equal(outcome.failure, undefined, `${fixture} (${name}) failed: ${outcome.failure?.message}`);
    }
  }
}

describe('anthropic stream decoder: golden fixtures, every chunking gives the same events', () => {
  it('text with cache usage: prompt = input + cache read + cache creation', () => {
    assertGolden('text.sse', [
      { type: 'start', id: 'msg_01XFDUDYJgAACzvnptvVoYEL', model: 'claude-sonnet-4-6' },
      { type: 'text', choice: 0, text: 'Bonjour' },
      { type: 'text', choice: 0, text: ' à' },
      { type: 'text', choice: 0, text: ' tous' },
      { type: 'text', choice: 0, text: ' 🌍' },
      { type: 'text', choice: 0, text: '!' },
      { type: 'finish', choice: 0, reason: 'stop' },
      {
        type: 'usage',
        usage: {
          promptTokens: 12 + 1024 + 2048,
          completionTokens: 6,
          totalTokens: 12 + 1024 + 2048 + 6,
          cachedTokens: 1024,
          cacheWriteTokens: 2048,
        },
      },
    ]);
  });

  it('thinking skipped, tool calls renumbered from 0, empty input left to egress ("{}")', () => {
    assertGolden('tools.sse', [
      { type: 'start', id: 'msg_014p7gG3wDgGV9EUtLvnow3U', model: 'claude-sonnet-4-6' },
      { type: 'text', choice: 0, text: 'Let me check.' },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city": ' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '"San Fra' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: 'ncisco", "' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: 'days": 3}' },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 1,
        id: 'toolu_01WzYQ3Cm9ZxeR7xD3dS2kHv',
        name: 'get_time',
      },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { promptTokens: 472, completionTokens: 89, totalTokens: 561 } },
    ]);
  });

  it('the synthetic JSON tool becomes text and its tool_use stop a plain stop', () => {
    assertGolden(
      'json-tool.sse',
      [
        { type: 'start', id: 'msg_01Jq8VJpSMDvFFGbQmG3Efdp', model: 'claude-sonnet-4-6' },
        { type: 'text', choice: 0, text: '{"answer"' },
        { type: 'text', choice: 0, text: ': "yes", ' },
        { type: 'text', choice: 0, text: '"score": 0.9}' },
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'usage', usage: { promptTokens: 25, completionTokens: 17, totalTokens: 42 } },
      ],
      { request: JSON_REQUEST },
    );
  });

  it('the same tool is a plain tool call when the request asked for no JSON', () => {
    const outcome = runDecoder(createMessagesStreamDecoder(REQUEST), [
      fixtureBytes('anthropic/json-tool.sse'),
    ]);
    assert.equal(outcome.events.find((e) => e.type === 'tool_call_start')?.type, 'tool_call_start');
    assert.deepEqual(outcome.events.at(-2), { type: 'finish', choice: 0, reason: 'tool_calls' });
  });

  it('an error event after output: the text first, then an overloaded failure', () => {
    assertGolden(
      'error-midstream.sse',
      [
        { type: 'start', id: 'msg_01Ug2tQqAsQ2Wf9xhFxHCmTj', model: 'claude-sonnet-4-6' },
        { type: 'text', choice: 0, text: 'Partial' },
      ],
      { failure: { kind: 'overloaded', retryable: true, message: 'Overloaded' } },
    );
  });

  it('an error right after message_start yields no event at all, so the gateway can fail over', () => {
    assertGolden('overloaded-first.sse', [], { failure: { kind: 'overloaded', retryable: true } });
  });

  it('a body that ends before message_stop is a protocol failure', () => {
    assertGolden(
      'cut.sse',
      [
        { type: 'start', id: 'msg_01Ug2tQqAsQ2Wf9xhFxHCmTm', model: 'claude-sonnet-4-6' },
        { type: 'text', choice: 0, text: 'Hello' },
      ],
      {
        failure: {
          kind: 'protocol',
          retryable: true,
          message: 'the stream was cut after message_delta, before message_stop',
        },
      },
    );
  });
});

describe('anthropic stream decoder: edge cases', () => {
  it('a JSON tool that streams only "" answers "{}"', () => {
    const bytes = sse(
      [
        'message_start',
        { message: { id: 'msg_1', model: 'm', usage: { input_tokens: 3, output_tokens: 1 } } },
      ],
      [
        'content_block_start',
        { index: 0, content_block: { type: 'tool_use', id: 't', name: 'json_response', input: {} } },
      ],
      ['content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '' } }],
      ['content_block_stop', { index: 0 }],
      ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } }],
      ['message_stop', {}],
    );
    const { events, failure } = runDecoder(createMessagesStreamDecoder(JSON_REQUEST), [bytes]);
    assert.equal(failure, undefined);
    assert.deepEqual(
      events.filter((e) => e.type === 'text'),
      [{ type: 'text', choice: 0, text: '{}' }],
    );
  });

  it('a refusal with no content still starts, and finishes content_filter', () => {
    const bytes = sse(
      [
        'message_start',
        { message: { id: 'msg_2', model: 'm', usage: { input_tokens: 5, output_tokens: 0 } } },
      ],
      ['message_delta', { delta: { stop_reason: 'refusal' }, usage: { output_tokens: 0 } }],
      ['message_stop', {}],
    );
    const { events } = runDecoder(createMessagesStreamDecoder(REQUEST), [bytes]);
    assert.deepEqual(events, [
      { type: 'start', id: 'msg_2', model: 'm' },
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { promptTokens: 5, completionTokens: 0, totalTokens: 5 } },
    ]);
  });

  it('message_delta input counts (newer API versions) override message_start', () => {
    const bytes = sse(
      ['message_start', { message: { id: 'm3', model: 'm', usage: { input_tokens: 1, output_tokens: 1 } } }],
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'x' } }],
      [
        'message_delta',
        {
          delta: { stop_reason: 'end_turn' },
          usage: { input_tokens: 40, cache_read_input_tokens: 60, output_tokens: 7 },
        },
      ],
      ['message_stop', {}],
    );
    const { events } = runDecoder(createMessagesStreamDecoder(REQUEST), [bytes]);
    assert.deepEqual(events.at(-1), {
      type: 'usage',
      usage: { promptTokens: 100, completionTokens: 7, totalTokens: 107, cachedTokens: 60 },
    });
  });

  it('a last event without its blank line still completes; garbage data is a protocol failure', () => {
    const complete = sse(
      ['message_start', { message: { id: 'm4', model: 'm', usage: {} } }],
      ['message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 0 } }],
      ['message_stop', {}],
    );
    const trimmed = complete.subarray(0, complete.length - 1);
    assert.equal(runDecoder(createMessagesStreamDecoder(REQUEST), [trimmed]).failure, undefined);
    const garbage = utf8('event: message_start\ndata: {not json\n\n');
    assert.equal(runDecoder(createMessagesStreamDecoder(REQUEST), [garbage]).failure?.kind, 'protocol');
  });

  it('an error event of each type maps to its failure kind', () => {
    const kinds: Record<string, string> = {
      overloaded_error: 'overloaded',
      rate_limit_error: 'throttled',
      api_error: 'server',
      invalid_request_error: 'client',
      timeout_error: 'timeout',
      some_future_error: 'server',
    };
    for (const [type, kind] of Object.entries(kinds)) {
      const bytes = utf8(
        `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message: 'm' } })}\n\n`,
      );
      const { failure } = runDecoder(createMessagesStreamDecoder(REQUEST), [bytes]);
      assert.equal(failure?.kind, kind, type);
    }
  });
});

describe('anthropic non-streaming decode', () => {
  it('text stopped by a stop sequence', () => {
    assert.deepEqual(decodeMessage(fixtureJson('anthropic/message-text.json'), REQUEST), [
      { type: 'start', id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', model: 'claude-sonnet-4-6' },
      { type: 'text', choice: 0, text: 'Hi! My name is Claude.' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { promptTokens: 10, completionTokens: 8, totalTokens: 18 } },
    ]);
  });

  it('thinking skipped, tool inputs serialised, cache read counted in the prompt', () => {
    assert.deepEqual(decodeMessage(fixtureJson('anthropic/message-tools.json'), REQUEST), [
      { type: 'start', id: 'msg_01Aq9w938a90dw8q', model: 'claude-sonnet-4-6' },
      { type: 'text', choice: 0, text: "I'll check both." },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 0,
        id: 'toolu_01A09q90qw90lq917835lq9',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":"Oslo"}' },
      { type: 'tool_call_start', choice: 0, index: 1, id: 'toolu_01B19q90qw90lq917835lq8', name: 'get_time' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      {
        type: 'usage',
        usage: { promptTokens: 3210, completionTokens: 64, totalTokens: 3274, cachedTokens: 3000 },
      },
    ]);
  });

  it('a JSON tool answer becomes the only text (a preamble would corrupt the JSON) and finishes stop', () => {
    const body = {
      id: 'msg_j',
      type: 'message',
      model: 'm',
      content: [
        { type: 'text', text: 'Here it is:' },
        { type: 'tool_use', id: 'toolu_j', name: 'json_response', input: { answer: 'yes' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 3, output_tokens: 4 },
    };
    const events = decodeMessage(body, JSON_REQUEST);
    assert.deepEqual(
      events.filter((e) => e.type === 'text' || e.type === 'finish'),
      [
        { type: 'text', choice: 0, text: '{"answer":"yes"}' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ],
    );
  });

  it('a tool_use without a name is a tool call (never mistaken for the JSON tool)', () => {
    const body = {
      id: 'msg_n',
      model: 'm',
      content: [{ type: 'tool_use', id: 'toolu_n', input: { a: 1 } }],
      stop_reason: 'tool_use',
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    const events = decodeMessage(body, REQUEST);
    assert.deepEqual(events[1], { type: 'tool_call_start', choice: 0, index: 0, id: 'toolu_n', name: '' });
    assert.deepEqual(events.at(-2), { type: 'finish', choice: 0, reason: 'tool_calls' });
  });

  it('an error envelope served with 200 and a non-object body throw', () => {
    assert.throws(
      () => decodeMessage({ type: 'error', error: { type: 'api_error', message: 'boom' } }, REQUEST),
      (e: unknown) =>
        e instanceof UpstreamError && e.failure.kind === 'server' && e.failure.message === 'boom',
    );
    assert.throws(
      () => decodeMessage('nope', REQUEST),
      (e: unknown) => e instanceof UpstreamError && e.failure.kind === 'protocol',
    );
  });
});

describe('anthropic stop reasons and usage', () => {
  it('maps every documented stop_reason (docs/translation.md)', () => {
    assert.equal(mapStopReason('end_turn'), 'stop');
    assert.equal(mapStopReason('stop_sequence'), 'stop');
    assert.equal(mapStopReason('pause_turn'), 'stop');
    assert.equal(mapStopReason('max_tokens'), 'length');
    assert.equal(mapStopReason('model_context_window_exceeded'), 'length');
    assert.equal(mapStopReason('tool_use'), 'tool_calls');
    assert.equal(mapStopReason('refusal'), 'content_filter');
    assert.equal(mapStopReason('something_new'), 'stop');
  });

  it('usage: cache tokens are part of the prompt, reported as cached / cache-write', () => {
    assert.deepEqual(
      decodeUsage({
        input_tokens: 5,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 20,
        output_tokens: 9,
      }),
      { promptTokens: 125, completionTokens: 9, totalTokens: 134, cachedTokens: 100, cacheWriteTokens: 20 },
    );
    assert.deepEqual(decodeUsage(undefined), { promptTokens: 0, completionTokens: 0, totalTokens: 0 });
  });
});

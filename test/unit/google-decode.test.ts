/**
 * Gemini / Vertex decoding: golden stream fixtures fed in many chunkings must give one exact
 * ChatEvent list; whole bodies decode to the same events; finish reasons, usage and the
 * completeness rule (a stream is complete only once a chunk carried finishReason) per the reference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent, ChatRequest } from '../../src/core/chat.ts';
import {
  createGenerateContentStreamDecoder,
  decodeGenerateContent,
  decodeUsage,
  mapFinishReason,
} from '../../src/providers/google/decode.ts';
import { decodeToolCallId } from '../../src/providers/google/tool-ids.ts';
import { UpstreamError } from '../../src/providers/types.ts';
import { chunkings, type DecodeOutcome, fixtureBytes, fixtureJson, runDecoder } from './helpers.ts';

const REQUEST: ChatRequest = {
  model: 'm',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  stream: true,
  includeUsage: true,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};
const utf8 = (text: string) => new TextEncoder().encode(text);
const sse = (...chunks: unknown[]) => utf8(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join(''));

function decode(bytes: Uint8Array, chunks: Uint8Array[] = [bytes], request = REQUEST): DecodeOutcome {
  return runDecoder(createGenerateContentStreamDecoder(request), chunks);
}

function assertGolden(fixture: string, expected: ChatEvent[]): void {
  const bytes = fixtureBytes(`google/${fixture}`);
  for (const { name, chunks } of chunkings(bytes)) {
    const outcome = decode(bytes, chunks);
    assert.equal(outcome.failure, undefined, `${fixture} (${name}) failed: ${outcome.failure?.message}`);
    assert.deepEqual(outcome.events, expected, `${fixture} decoded differently when split ${name}`);
  }
}

const TEXT_EVENTS: ChatEvent[] = [
  { type: 'start', id: 'Xl5HacLpBIuNvdIP7ZKX-QY', model: 'gemini-2.5-flash' },
  { type: 'text', choice: 0, text: 'Voilà, ' },
  { type: 'text', choice: 0, text: 'the world 🌍 says' },
  { type: 'text', choice: 0, text: ' hello.' },
  { type: 'finish', choice: 0, reason: 'stop' },
  // Usage from the last chunk only: prompt 9, completion = 11 candidates + 185 thoughts.
  {
    type: 'usage',
    usage: {
      promptTokens: 9,
      completionTokens: 196,
      totalTokens: 205,
      cachedTokens: 4,
      reasoningTokens: 185,
    },
  },
];

const WEATHER_ID = 'call_iyMJUqIyxyD2k7Q1Sgx1eNoR_geyJzIjoiRW9zRkNvZ0ZBWExJMm53OVpiN0oifQ';
const TIME_ID = 'call_erqXsj74katW9JR8yPq80OXI';

describe('google stream decoder: golden fixtures, every chunking gives the same events', () => {
  it('text with multi-byte UTF-8, usage on every chunk (last wins), finishReason on the last', () => {
    assertGolden('gemini-text.sse', TEXT_EVENTS);
  });

  it('the same stream with CRLF event delimiters', () => {
    assertGolden('gemini-text-crlf.sse', TEXT_EVENTS);
  });

  it('whole function calls: a start then one argument delta each; STOP after calls is tool_calls', () => {
    assertGolden('gemini-tool-calls.sse', [
      { type: 'start', id: 'tools-resp-1', model: 'gemini-3-flash-preview' },
      { type: 'tool_call_start', choice: 0, index: 0, id: WEATHER_ID, name: 'get_weather' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":"Oslo","days":2}' },
      { type: 'tool_call_start', choice: 0, index: 1, id: TIME_ID, name: 'get_time' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      {
        type: 'usage',
        usage: { promptTokens: 40, completionTokens: 80, totalTokens: 120, reasoningTokens: 62 },
      },
    ]);
  });

  it('the thought signature rides in the first call id; the unsigned call carries nothing', () => {
    assert.deepEqual(decodeToolCallId(WEATHER_ID), { signature: 'EosFCogFAXLI2nw9Zb7J' });
    assert.deepEqual(decodeToolCallId(TIME_ID), {});
  });

  it('SAFETY mid-answer: the partial text, then content_filter', () => {
    assertGolden('gemini-safety.sse', [
      { type: 'start', id: 'safety-1', model: 'gemini-2.5-flash' },
      { type: 'text', choice: 0, text: 'I can' },
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { promptTokens: 5, completionTokens: 2, totalTokens: 7 } },
    ]);
  });

  it('a stream that ends without a finishReason chunk is a protocol failure after its events', () => {
    const bytes = fixtureBytes('google/gemini-cut.sse');
    for (const { name, chunks } of chunkings(bytes)) {
      const outcome = decode(bytes, chunks);
      assert.equal(outcome.failure?.kind, 'protocol', name);
      assert.match(outcome.failure?.message ?? '', /finishReason/);
      assert.deepEqual(
        outcome.events.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : '')),
        ['Voilà, ', 'the world 🌍 says'],
        name,
      );
    }
  });

  it('an error chunk mid-stream: earlier events go out, then the classified failure', () => {
    const bytes = fixtureBytes('google/gemini-error-midstream.sse');
    for (const { name, chunks } of chunkings(bytes)) {
      const outcome = decode(bytes, chunks);
      assert.equal(outcome.failure?.kind, 'overloaded', name);
      assert.equal(outcome.failure?.status, 503, name);
      assert.ok(
        outcome.events.some((e) => e.type === 'text'),
        name,
      );
    }
  });

  it('a last event without its blank line still counts', () => {
    const chunk = {
      candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }],
      responseId: 'r',
    };
    const outcome = decode(utf8(`data: ${JSON.stringify(chunk)}\n`));
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(outcome.events.at(-1), { type: 'finish', choice: 0, reason: 'stop' });
  });

  it('a chunk that is not JSON is a protocol failure', () => {
    assert.equal(decode(utf8('data: {"candidates": [\n\n')).failure?.kind, 'protocol');
  });

  it('two candidates: complete only once both finished', () => {
    const first = { candidates: [{ content: { parts: [{ text: 'a' }] }, index: 0, finishReason: 'STOP' }] };
    const second = { candidates: [{ content: { parts: [{ text: 'b' }] }, index: 1 }] };
    assert.equal(decode(sse(first, second)).failure?.kind, 'protocol');
    const done = {
      candidates: [{ content: { parts: [{ text: 'c' }] }, index: 1, finishReason: 'MAX_TOKENS' }],
    };
    const outcome = decode(sse(first, second, done));
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(
      outcome.events.filter((e) => e.type === 'finish'),
      [
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'finish', choice: 1, reason: 'length' },
      ],
    );
  });

  it('a blocked prompt in a stream (no candidates, blockReason) completes with content_filter', () => {
    const outcome = decode(
      sse({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 4 } }),
    );
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(outcome.events.slice(1), [
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { promptTokens: 4, completionTokens: 0, totalTokens: 4 } },
    ]);
  });

  it('thought parts (includeThoughts) are not answer text', () => {
    const chunk = {
      candidates: [
        {
          content: { parts: [{ text: 'thinking...', thought: true }, { text: 'answer' }] },
          finishReason: 'STOP',
        },
      ],
    };
    const texts = decode(sse(chunk)).events.filter((e) => e.type === 'text');
    assert.deepEqual(texts, [{ type: 'text', choice: 0, text: 'answer' }]);
  });

  it('parallel_tool_calls: false keeps only the first call (Gemini cannot be told)', () => {
    const outcome = decode(fixtureBytes('google/gemini-tool-calls.sse'), undefined, {
      ...REQUEST,
      parallelToolCalls: false,
    });
    const starts = outcome.events.filter((e) => e.type === 'tool_call_start');
    assert.equal(starts.length, 1);
    assert.equal(starts[0]?.type === 'tool_call_start' && starts[0].name, 'get_weather');
  });
});

describe('google whole-body decoding', () => {
  it('Vertex response with text and two calls: ids are synthesized, stable and distinct', () => {
    const body = fixtureJson('google/vertex-response-tools.json');
    const events = decodeGenerateContent(body, { ...REQUEST, stream: false });
    assert.deepEqual(events, [
      { type: 'start', id: 'vtx-resp-7', model: 'gemini-2.5-flash', created: 1787393730 },
      { type: 'text', choice: 0, text: 'Checking both.' },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 0,
        id: 'call_vOkzx1IGICmED93CT2CoJLd7',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":"Oslo"}' },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 1,
        id: 'call_XccNewGxIn2odPARPApE39yV',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"city":"Bergen"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { promptTokens: 31, completionTokens: 24, totalTokens: 55 } },
    ]);
    assert.deepEqual(decodeGenerateContent(body, REQUEST), events, 'same ids on every decode');
  });

  it('streamed and whole decoding of the same answer agree', () => {
    const chunks = fixtureBytes('google/gemini-tool-calls.sse');
    const streamed = decode(chunks).events;
    const whole = decodeGenerateContent(
      {
        candidates: [
          {
            content: {
              parts: [
                {
                  functionCall: { name: 'get_weather', args: { city: 'Oslo', days: 2 } },
                  thoughtSignature: 'EosFCogFAXLI2nw9Zb7J',
                },
                { functionCall: { name: 'get_time', args: {} } },
              ],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 18, thoughtsTokenCount: 62 },
        modelVersion: 'gemini-3-flash-preview',
        responseId: 'tools-resp-1',
      },
      REQUEST,
    );
    assert.deepEqual(whole, streamed);
  });

  it('two candidates (n=2) with their own finish reasons', () => {
    const events = decodeGenerateContent(fixtureJson('google/gemini-two-candidates.json'), REQUEST);
    assert.deepEqual(
      events.filter((e) => e.type === 'text' || e.type === 'finish'),
      [
        { type: 'text', choice: 0, text: 'One.' },
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'text', choice: 1, text: 'Two, cut' },
        { type: 'finish', choice: 1, reason: 'length' },
      ],
    );
  });

  it('a blocked prompt (promptFeedback.blockReason, no candidates) is content_filter with usage', () => {
    assert.deepEqual(decodeGenerateContent(fixtureJson('google/gemini-prompt-blocked.json'), REQUEST), [
      { type: 'start', id: 'blocked-1', model: 'gemini-2.5-flash' },
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { promptTokens: 12, completionTokens: 0, totalTokens: 12 } },
    ]);
  });

  it('a function call with no args gives "{}"; a candidate without finishReason ends as stop / tool_calls', () => {
    const events = decodeGenerateContent(
      { candidates: [{ content: { parts: [{ functionCall: { name: 'ping' } }] } }], responseId: 'r' },
      REQUEST,
    );
    assert.deepEqual(events.slice(2), [
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('an error body or a body without candidates is a failure, not an empty answer', () => {
    assert.throws(
      () => decodeGenerateContent(fixtureJson('google/gemini-429.json'), REQUEST),
      (err: unknown) => err instanceof UpstreamError && err.failure.kind === 'throttled',
    );
    assert.throws(
      () => decodeGenerateContent({ usageMetadata: { promptTokenCount: 1 } }, REQUEST),
      (err: unknown) => err instanceof UpstreamError && err.failure.kind === 'protocol',
    );
    assert.throws(
      () => decodeGenerateContent('nope', REQUEST),
      (err: unknown) => err instanceof UpstreamError && err.failure.kind === 'protocol',
    );
  });
});

describe('google finish reasons and usage (sections 7.1, 7.3)', () => {
  it('maps every documented finish reason', () => {
    const table: [string, boolean, string][] = [
      ['STOP', false, 'stop'],
      ['STOP', true, 'tool_calls'],
      ['MAX_TOKENS', false, 'length'],
      ['MAX_TOKENS', true, 'length'],
      ['OTHER', false, 'stop'],
      ['FINISH_REASON_UNSPECIFIED', false, 'stop'],
      ['SAFETY', false, 'content_filter'],
      ['RECITATION', false, 'content_filter'],
      ['LANGUAGE', false, 'content_filter'],
      ['BLOCKLIST', false, 'content_filter'],
      ['PROHIBITED_CONTENT', false, 'content_filter'],
      ['SPII', false, 'content_filter'],
      ['IMAGE_SAFETY', false, 'content_filter'],
      ['IMAGE_PROHIBITED_CONTENT', false, 'content_filter'],
      ['NO_IMAGE', false, 'stop'],
      ['SOMETHING_NEW', false, 'stop'],
    ];
    for (const [reason, called, expected] of table) {
      assert.equal(mapFinishReason(reason, called), expected, `${reason} (calls: ${called})`);
    }
  });

  it('failed tool use is a retryable upstream failure, not a silent stop', () => {
    for (const reason of ['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS']) {
      assert.throws(
        () => mapFinishReason(reason, false),
        (err: unknown) =>
          err instanceof UpstreamError && err.failure.retryable && err.failure.message.includes(reason),
      );
    }
  });

  it('usage: cached is part of the prompt, thoughts are completion, tool-use prompt counts as prompt', () => {
    assert.deepEqual(
      decodeUsage({
        promptTokenCount: 100,
        cachedContentTokenCount: 60,
        candidatesTokenCount: 20,
        thoughtsTokenCount: 30,
        toolUsePromptTokenCount: 5,
        totalTokenCount: 155,
      }),
      { promptTokens: 105, completionTokens: 50, totalTokens: 155, cachedTokens: 60, reasoningTokens: 30 },
    );
    assert.deepEqual(decodeUsage({ promptTokenCount: 3 }), {
      promptTokens: 3,
      completionTokens: 0,
      totalTokens: 3,
    });
    assert.equal(decodeUsage(undefined), undefined);
  });
});

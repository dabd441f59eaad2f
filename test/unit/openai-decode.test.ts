/**
 * OpenAI-family decoding: golden stream fixtures fed in many chunkings must give one exact
 * ChatEvent list; non-streaming bodies decode to the same events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent } from '../../src/core/chat.ts';
import {
  createChatStreamDecoder,
  decodeChatCompletion,
  decodeUsage,
  mapFinishReason,
} from '../../src/providers/openai/decode.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/providers/types.ts';
import { chunkings, type DecodeOutcome, fixtureBytes, fixtureJson, runDecoder } from './helpers.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function decodeWith(bytes: Uint8Array, chunks: Uint8Array[] = [bytes]): DecodeOutcome {
  return runDecoder(createChatStreamDecoder(), chunks);
}

/** Every chunking of the fixture decodes to exactly `expected`, and the stream ends cleanly. */
function assertGolden(fixture: string, expected: ChatEvent[]): void {
  const bytes = fixtureBytes(fixture);
  for (const { name, chunks } of chunkings(bytes)) {
    const outcome = decodeWith(bytes, chunks);
    assert.equal(outcome.failure, undefined, `${fixture} (${name}) failed: ${outcome.failure?.message}`);
    assert.deepEqual(outcome.events, expected, `${fixture} decoded differently when split ${name}`);
  }
}

/** `data: <json>` frames for inline streams. */
function sse(...frames: (Record<string, unknown> | string)[]): Uint8Array {
  return utf8(frames.map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`).join(''));
}

function chunk(choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-x',
    object: 'chat.completion.chunk',
    created: 1766100000,
    model: 'm',
    choices,
    ...extra,
  };
}

const START_X: ChatEvent = { type: 'start', id: 'chatcmpl-x', created: 1766100000, model: 'm' };

describe('stream decoder: golden fixtures, every chunking gives the same events', () => {
  it('OpenAI text stream (obfuscation, usage:null, multi-byte UTF-8, usage chunk)', () => {
    assertGolden('openai-text.sse', [
      {
        type: 'start',
        id: 'chatcmpl-CfA1xYz9QpLm3Rt7Uv2Wn8Kd',
        created: 1766102400,
        model: 'gpt-4.1-nano-2025-04-14',
        systemFingerprint: 'fp_38343a2f8f',
      },
      { type: 'text', choice: 0, text: 'Bonjour' },
      { type: 'text', choice: 0, text: ' à' },
      { type: 'text', choice: 0, text: ' tous' },
      { type: 'text', choice: 0, text: ' 🌍' },
      { type: 'text', choice: 0, text: '!' },
      { type: 'finish', choice: 0, reason: 'stop' },
      {
        type: 'usage',
        usage: { promptTokens: 1536, completionTokens: 6, totalTokens: 1542, cachedTokens: 1024 },
      },
    ]);
  });

  it('Azure stream: choices:[] first chunk with empty id/model, content_filter_results on choices', () => {
    assertGolden('azure-content-filter.sse', [
      {
        type: 'start',
        id: 'chatcmpl-BzQ7tLk2Vd9Xw1Ms4Np6Rc3Hy',
        created: 1766102460,
        model: 'gpt-4o-2024-11-20',
        systemFingerprint: 'fp_ee1d74bde0',
      },
      { type: 'text', choice: 0, text: 'The capital' },
      { type: 'text', choice: 0, text: ' of Norway' },
      { type: 'text', choice: 0, text: ' is Oslo.' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { promptTokens: 21, completionTokens: 8, totalTokens: 29 } },
    ]);
  });

  it('Azure asynchronous-filter annotation chunks (no delta) add nothing, even after the finish', () => {
    assertGolden('azure-async-filter.sse', [
      {
        type: 'start',
        id: 'chatcmpl-BzQ7tLk2Vd9Xw1Ms4Np6Rc3Hy',
        created: 1766102460,
        model: 'gpt-4o-2024-11-20',
        systemFingerprint: 'fp_ee1d74bde0',
      },
      { type: 'text', choice: 0, text: 'The capital' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('OpenAI parallel tool calls: one start per call, then argument fragments', () => {
    assertGolden('openai-parallel-tools.sse', [
      {
        type: 'start',
        id: 'chatcmpl-CfB2ToolPq8Rz1Lm5Kx0Vw3Ns',
        created: 1766102520,
        model: 'gpt-4.1-2025-04-14',
        systemFingerprint: 'fp_799e4ca3f1',
      },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 0,
        id: 'call_Qd2mV8xPz1LkTy7Rb3Nc9Ws0',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"ci' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: 'ty": "P' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: 'aris"}' },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 1,
        id: 'call_Hn4kB2sYw9PqLm0Xc7Vd5Tz1',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"ci' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: 'ty": "O' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: 'slo"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { promptTokens: 82, completionTokens: 49, totalTokens: 131 } },
    ]);
  });

  const OLLAMA_CALLS: ChatEvent[] = [
    {
      type: 'start',
      id: 'chatcmpl-714',
      created: 1766102580,
      model: 'llama3.1:8b',
      systemFingerprint: 'fp_ollama',
    },
    { type: 'tool_call_start', choice: 0, index: 0, id: 'call_k3f9a2mz', name: 'get_weather' },
    { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":"Paris"}' },
    { type: 'tool_call_start', choice: 0, index: 1, id: 'call_p0q7w1xe', name: 'get_time' },
    { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"timezone":"Europe/Paris"}' },
  ];
  const OLLAMA_USAGE: ChatEvent = {
    type: 'usage',
    usage: { promptTokens: 88, completionTokens: 31, totalTokens: 119 },
  };

  it('Ollama: each tool call whole in one delta, without index; the role repeated on every chunk', () => {
    assertGolden('ollama-tools.sse', [
      ...OLLAMA_CALLS,
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      OLLAMA_USAGE,
    ]);
  });

  it('older Ollama ending tool calls with finish_reason "stop" still reports tool_calls', () => {
    assertGolden('ollama-tools-finish-stop.sse', [
      ...OLLAMA_CALLS,
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      OLLAMA_USAGE,
    ]);
  });

  it('a compatible server whose first tool delta has no name: buffered until the name arrives', () => {
    assertGolden('compat-late-tool-name.sse', [
      { type: 'start', id: 'cmpl-9f2e7c1a', created: 1766102640, model: 'mistral-small-3.2' },
      { type: 'tool_call_start', choice: 0, index: 0, id: 'call_7c1d', name: 'search_docs' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"query":' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: ' "refund policy"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { promptTokens: 140, completionTokens: 17, totalTokens: 157 } },
    ]);
  });

  it('a stream cut without [DONE]: the events so far, then a retryable protocol failure', () => {
    const bytes = fixtureBytes('openai-cut.sse');
    for (const { name, chunks } of chunkings(bytes)) {
      assert.deepEqual(
        decodeWith(bytes, chunks),
        {
          events: [
            {
              type: 'start',
              id: 'chatcmpl-CfA1xYz9QpLm3Rt7Uv2Wn8Kd',
              created: 1766102400,
              model: 'gpt-4.1-nano-2025-04-14',
              systemFingerprint: 'fp_38343a2f8f',
            },
            { type: 'text', choice: 0, text: 'The answer' },
            { type: 'text', choice: 0, text: ' is' },
          ],
          failure: { kind: 'protocol', retryable: true, message: 'the stream ended before it was complete' },
        },
        name,
      );
    }
  });
});

describe('stream decoder: a mid-stream error frame', () => {
  const bytes = fixtureBytes('openai-error-midstream.sse');
  const EVENTS_BEFORE_ERROR: ChatEvent[] = [
    {
      type: 'start',
      id: 'chatcmpl-CfA1xYz9QpLm3Rt7Uv2Wn8Kd',
      created: 1766102400,
      model: 'gpt-4.1-nano-2025-04-14',
      systemFingerprint: 'fp_38343a2f8f',
    },
    { type: 'text', choice: 0, text: 'The answer' },
    { type: 'text', choice: 0, text: ' is' },
  ];
  const MESSAGE = 'The server had an error while processing your request. Sorry about that!';

  // Retryable: if the error comes before the first output reached the client, another deployment
  // may serve; after that, the stream ends with an error event whatever the flag says.
  it('fails the stream, retryable, with the upstream message, in every chunking', () => {
    for (const { name, chunks } of chunkings(bytes)) {
      const { failure } = decodeWith(bytes, chunks);
      assert.ok(failure, `${name}: no failure`);
      assert.equal(failure.retryable, true, name);
      assert.equal(failure.message, MESSAGE, name);
    }
  });

  it('read byte by byte, the events before the error come out first', () => {
    const byteByByte = chunkings(bytes).find((c) => c.name === 'byte-by-byte');
    assert.ok(byteByByte);
    assert.deepEqual(decodeWith(bytes, byteByByte.chunks).events, EVENTS_BEFORE_ERROR);
  });

  it('the events before the error are the same however the body was split', () => {
    for (const { name, chunks } of chunkings(bytes)) {
      assert.deepEqual(decodeWith(bytes, chunks).events, EVENTS_BEFORE_ERROR, name);
    }
  });

  it('an upstream server_error mid-stream is classified as a server failure, not a client error', () => {
    const { failure } = decodeWith(bytes);
    assert.ok(failure);
    assert.equal(failure.kind, 'server');
    assert.equal(failure.clientError, undefined);
  });

  it('an SSE event named error also fails the stream', () => {
    const body = utf8(
      `data: ${JSON.stringify(chunk([{ index: 0, delta: { content: 'Hi' }, finish_reason: null }]))}\n\n` +
        'event: error\ndata: {"message":"upstream overloaded","type":"overloaded_error"}\n\n',
    );
    // Two reads, split right after the first frame.
    const cut = new TextDecoder().decode(body).indexOf('\n\n') + 2;
    const outcome = decodeWith(body, [body.subarray(0, cut), body.subarray(cut)]);
    assert.deepEqual(outcome.events, [START_X, { type: 'text', choice: 0, text: 'Hi' }]);
    assert.equal(outcome.failure?.kind, 'overloaded');
    assert.equal(outcome.failure?.retryable, true);
  });

  it('a data line that is not JSON is a retryable protocol failure', () => {
    const outcome = decodeWith(utf8('data: {"id":"x", oops\n\n'));
    assert.deepEqual(outcome, {
      events: [],
      failure: { kind: 'protocol', retryable: true, message: 'a stream event is not JSON' },
    });
  });
});

describe('stream decoder: framing and quirks', () => {
  it('CRLF line endings and SSE comment lines decode exactly like the LF original', () => {
    const lf = fixtureBytes('openai-text.sse');
    const expected = decodeWith(lf).events;
    const text = new TextDecoder().decode(lf);
    const crlf = utf8(`: OPENROUTER PROCESSING\r\n\r\n${text.replaceAll('\n', '\r\n')}`);
    for (const { name, chunks } of chunkings(crlf)) {
      assert.deepEqual(decodeWith(crlf, chunks), { events: expected }, name);
    }
    const withComments = utf8(text.replaceAll('data: ', ': keep-alive\ndata: '));
    assert.deepEqual(decodeWith(withComments), { events: expected });
  });

  it('anything after [DONE] is ignored', () => {
    const body = sse(
      chunk([{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }]),
      '[DONE]',
      chunk([{ index: 0, delta: { content: 'late' }, finish_reason: null }]),
      '{"error":{"message":"late error"}}',
    );
    assert.deepEqual(decodeWith(body), {
      events: [
        START_X,
        { type: 'text', choice: 0, text: 'ok' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ],
    });
  });

  it('a stream cut after its finish chunk is still a protocol failure, said as such', () => {
    const outcome = decodeWith(sse(chunk([{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }])));
    assert.deepEqual(outcome.failure, {
      kind: 'protocol',
      retryable: true,
      message: 'the stream was cut after its finish chunk',
    });
    assert.equal(outcome.events.length, 3);
  });

  it('n=2: interleaved choices keep their own index and each gets its own finish', () => {
    const body = sse(
      chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      chunk([{ index: 1, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: 'Red' }, finish_reason: null }]),
      chunk([{ index: 1, delta: { content: 'Blue' }, finish_reason: null }]),
      chunk([{ index: 1, delta: {}, finish_reason: 'length' }]),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      '[DONE]',
    );
    const expected: ChatEvent[] = [
      START_X,
      { type: 'text', choice: 0, text: 'Red' },
      { type: 'text', choice: 1, text: 'Blue' },
      { type: 'finish', choice: 1, reason: 'length' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ];
    for (const { name, chunks } of chunkings(body))
      assert.deepEqual(decodeWith(body, chunks).events, expected, name);
  });

  it('logprobs ride on their text event; refusal deltas become refusal events', () => {
    const lp = [{ token: 'Hi', logprob: -0.01, bytes: [72, 105], top_logprobs: [] }];
    const body = sse(
      chunk([
        { index: 0, delta: { content: 'Hi' }, logprobs: { content: lp, refusal: null }, finish_reason: null },
      ]),
      chunk([{ index: 0, delta: { refusal: "I can't" }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { refusal: ' do that.' }, logprobs: null, finish_reason: 'stop' }]),
      '[DONE]',
    );
    assert.deepEqual(decodeWith(body).events, [
      START_X,
      { type: 'text', choice: 0, text: 'Hi', logprobs: lp },
      { type: 'refusal', choice: 0, text: "I can't" },
      { type: 'refusal', choice: 0, text: ' do that.' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('tool deltas without index: an id opens a new call, no id continues the last (Gemini compat)', () => {
    const body = sse(
      chunk([
        {
          index: 0,
          delta: { tool_calls: [{ id: 'call_g1', function: { name: 'lookup', arguments: '{"q":' } }] },
        },
      ]),
      chunk([{ index: 0, delta: { tool_calls: [{ function: { arguments: '"a"}' } }] } }]),
      chunk([
        {
          index: 0,
          delta: { tool_calls: [{ id: 'call_g2', function: { name: 'lookup', arguments: '{}' } }] },
        },
      ]),
      chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
      '[DONE]',
    );
    assert.deepEqual(decodeWith(body).events, [
      START_X,
      { type: 'tool_call_start', choice: 0, index: 0, id: 'call_g1', name: 'lookup' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"q":' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '"a"}' },
      { type: 'tool_call_start', choice: 0, index: 1, id: 'call_g2', name: 'lookup' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('two whole calls in one delta, both without index, become calls 0 and 1', () => {
    const body = sse(
      chunk([
        {
          index: 0,
          delta: {
            role: 'assistant',
            content: '',
            tool_calls: [
              { id: 'call_x', type: 'function', function: { name: 'a', arguments: '{"n":1}' } },
              { id: 'call_y', type: 'function', function: { name: 'b', arguments: '{"n":2}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ]),
      '[DONE]',
    );
    assert.deepEqual(decodeWith(body).events, [
      START_X,
      { type: 'tool_call_start', choice: 0, index: 0, id: 'call_x', name: 'a' },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"n":1}' },
      { type: 'tool_call_start', choice: 0, index: 1, id: 'call_y', name: 'b' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{"n":2}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('a tool call without an id gets a stable synthetic one', () => {
    const body = sse(
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'noop', arguments: '' } }] } }]),
      chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
      '[DONE]',
    );
    assert.deepEqual(decodeWith(body).events, [
      START_X,
      { type: 'tool_call_start', choice: 0, index: 0, id: 'call_0_0', name: 'noop' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('no start event until a chunk carries an id', () => {
    const body = sse(
      { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [] },
      '[DONE]',
    );
    assert.deepEqual(decodeWith(body), { events: [] });
  });
});

describe('decodeChatCompletion (non-streaming)', () => {
  it('tool calls with content null', () => {
    assert.deepEqual(decodeChatCompletion(fixtureJson('openai-completion-tools.json')), [
      {
        type: 'start',
        id: 'chatcmpl-CfC3NonStreamZq1Wx2Ec3Rv',
        created: 1766102700,
        model: 'gpt-4.1-2025-04-14',
        systemFingerprint: 'fp_799e4ca3f1',
      },
      {
        type: 'tool_call_start',
        choice: 0,
        index: 0,
        id: 'call_Ab12Cd34Ef56Gh78Ij90Kl12',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":"Paris"}' },
      { type: 'tool_call_start', choice: 0, index: 1, id: 'call_Mn34Op56Qr78St90Uv12Wx34', name: 'get_time' },
      { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { promptTokens: 95, completionTokens: 40, totalTokens: 135 } },
    ]);
  });

  it('three choices: text with logprobs, a refusal, a length cut; cached and reasoning tokens', () => {
    assert.deepEqual(decodeChatCompletion(fixtureJson('openai-completion-text.json')), [
      // system_fingerprint: null is left out.
      {
        type: 'start',
        id: 'chatcmpl-CfC4TextZq1Wx2Ec3Rv4Tb',
        created: 1766102760,
        model: 'o4-mini-2025-04-16',
      },
      {
        type: 'text',
        choice: 0,
        text: 'Oslo is the capital of Norway.',
        logprobs: [{ token: 'Oslo', logprob: -0.0001, bytes: [79, 115, 108, 111], top_logprobs: [] }],
      },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'refusal', choice: 1, text: "I can't help with that." },
      { type: 'finish', choice: 1, reason: 'stop' },
      { type: 'text', choice: 2, text: 'Oslo, the capital' },
      { type: 'finish', choice: 2, reason: 'length' },
      {
        type: 'usage',
        usage: {
          promptTokens: 2048,
          completionTokens: 300,
          totalTokens: 2348,
          cachedTokens: 1920,
          reasoningTokens: 256,
        },
      },
    ]);
  });

  it('Azure output filtered: HTTP 200, content null, finish content_filter', () => {
    assert.deepEqual(decodeChatCompletion(fixtureJson('azure-completion-filtered.json')), [
      {
        type: 'start',
        id: 'chatcmpl-BzR8FilteredLk2Vd9Xw1Ms',
        created: 1766102820,
        model: 'gpt-4o-2024-11-20',
        systemFingerprint: 'fp_ee1d74bde0',
      },
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { promptTokens: 30, completionTokens: 12, totalTokens: 42 } },
    ]);
  });

  it('an error body with status 200 throws an UpstreamError; a non-object is a protocol failure', () => {
    const failureOf = (body: unknown): UpstreamFailure => {
      try {
        decodeChatCompletion(body);
      } catch (err) {
        if (err instanceof UpstreamError) return err.failure;
        throw err;
      }
      assert.fail('expected an UpstreamError');
    };
    assert.equal(failureOf({ error: { message: 'bad', type: 'invalid_request_error' } }).message, 'bad');
    assert.deepEqual(failureOf([1, 2]), {
      kind: 'protocol',
      retryable: true,
      message: 'the response body is not a JSON object',
    });
  });
});

describe('mapFinishReason and decodeUsage', () => {
  it('finish reasons', () => {
    assert.equal(mapFinishReason('stop'), 'stop');
    assert.equal(mapFinishReason('length'), 'length');
    assert.equal(mapFinishReason('tool_calls'), 'tool_calls');
    assert.equal(mapFinishReason('function_call'), 'tool_calls');
    assert.equal(mapFinishReason('content_filter'), 'content_filter');
    assert.equal(mapFinishReason('eos'), 'stop');
    assert.equal(mapFinishReason(undefined), 'stop');
  });

  it('usage: total computed when missing, zero details left out, cache writes kept', () => {
    assert.equal(decodeUsage(null), undefined);
    assert.deepEqual(decodeUsage({ prompt_tokens: 3, completion_tokens: 4 }), {
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
    });
    assert.deepEqual(
      decodeUsage({
        prompt_tokens: 100,
        completion_tokens: 50,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 0 },
      }),
      { promptTokens: 100, completionTokens: 50, totalTokens: 150, cacheWriteTokens: 64 },
    );
  });
});

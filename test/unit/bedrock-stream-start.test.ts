/**
 * Holding `start` until real output (issue 11, item 4). The gateway commits a response to its
 * client at the first event a decoder hands out; a stream that opens (Bedrock messageStart, a
 * Google chunk with nothing to show, an Anthropic block with no text yet, an OpenAI role chunk)
 * and then fails with the cloud's in-band error must hand out
 * no event at all, only the retryable failure, so that another deployment can serve invisibly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent, ChatRequest } from '../../src/core/chat.ts';
import { createMessagesStreamDecoder } from '../../src/providers/anthropic/decode.ts';
import { createConverseStreamDecoder } from '../../src/providers/bedrock/decode-stream.ts';
import {
  createGenerateContentStreamDecoder,
  decodeGenerateContent,
} from '../../src/providers/google/decode.ts';
import { createChatStreamDecoder } from '../../src/providers/openai/decode.ts';
import { eventFrame, exceptionFrame } from '../../src/sim/bedrock-stream.ts';
import { chunkings, runDecoder } from './helpers.ts';

const REQUEST: ChatRequest = {
  model: 'm',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  stream: true,
  includeUsage: true,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('Bedrock ConverseStream: start waits for output', () => {
  const opening = eventFrame('messageStart', { role: 'assistant', p: 'abc' });

  for (const [exception, kind] of [
    ['throttlingException', 'throttled'],
    ['serviceUnavailableException', 'overloaded'],
    ['internalServerException', 'server'],
    ['modelStreamErrorException', 'server'],
  ] as const) {
    it(`messageStart then ${exception}: no event, a retryable ${kind} failure`, () => {
      const bytes = concat(
        opening,
        exceptionFrame(exception, { message: 'Bedrock is unable to process your request.' }),
      );
      // Every split: the frames in one read, in two, byte by byte.
      for (const { name, chunks } of chunkings(bytes)) {
        const outcome = runDecoder(createConverseStreamDecoder(REQUEST), chunks);
        assert.deepEqual(outcome.events, [], `${name}: nothing reaches the client`);
        assert.equal(outcome.failure?.kind, kind, name);
        assert.equal(outcome.failure?.retryable, true, name);
      }
    });
  }

  it('start goes out with the first text, carrying no more than before', () => {
    const bytes = concat(
      opening,
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
      exceptionFrame('throttlingException', { message: 'Too many requests' }),
    );
    const outcome = runDecoder(createConverseStreamDecoder(REQUEST), [bytes]);
    assert.deepEqual(outcome.events, [{ type: 'start' }, { type: 'text', choice: 0, text: 'Hel' }]);
    assert.equal(outcome.failure?.kind, 'throttled');
  });

  it('a tool call start is output: start precedes it', () => {
    const bytes = concat(
      opening,
      eventFrame('contentBlockStart', {
        contentBlockIndex: 0,
        start: { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather' } },
      }),
    );
    const decoder = createConverseStreamDecoder(REQUEST);
    assert.deepEqual(decoder.push(bytes), [
      { type: 'start' },
      { type: 'tool_call_start', choice: 0, index: 0, id: 'tooluse_1', name: 'get_weather' },
    ]);
  });

  it('an answer with no content still starts, at its finish', () => {
    const bytes = concat(
      opening,
      eventFrame('messageStop', { stopReason: 'end_turn' }),
      eventFrame('metadata', { usage: { inputTokens: 3, outputTokens: 0, totalTokens: 3 } }),
    );
    const outcome = runDecoder(createConverseStreamDecoder(REQUEST), [bytes]);
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(outcome.events, [
      { type: 'start' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { promptTokens: 3, completionTokens: 0, totalTokens: 3 } },
    ]);
  });

  it('a reasoning delta is not output: an exception after it still fails over invisibly', () => {
    const bytes = concat(
      opening,
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hmm' } } }),
      exceptionFrame('serviceUnavailableException', { message: 'busy' }),
    );
    const outcome = runDecoder(createConverseStreamDecoder(REQUEST), [bytes]);
    assert.deepEqual(outcome.events, []);
    assert.equal(outcome.failure?.kind, 'overloaded');
  });
});

describe('Gemini / Vertex streams: start waits for output', () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const sse = (...chunks: unknown[]) => utf8(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join(''));
  const envelope = { responseId: 'resp-1', modelVersion: 'gemini-2.5-flash' };
  const usage = { promptTokenCount: 4, candidatesTokenCount: 0, totalTokenCount: 4 };
  /** An opening chunk with nothing to show: a thought summary and running usage. */
  const thoughtOnly = {
    candidates: [{ content: { role: 'model', parts: [{ text: 'Let me think', thought: true }] }, index: 0 }],
    usageMetadata: usage,
    ...envelope,
  };
  const overloaded = { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } };

  it('a chunk without output then the error Google sends mid-stream: no event, retryable overloaded', () => {
    const bytes = sse(thoughtOnly, overloaded);
    for (const { name, chunks } of chunkings(bytes)) {
      const outcome = runDecoder(createGenerateContentStreamDecoder(REQUEST), chunks);
      assert.deepEqual(outcome.events, [], name);
      assert.equal(outcome.failure?.kind, 'overloaded', name);
      assert.equal(outcome.failure?.retryable, true, name);
    }
  });

  it('an empty text part (a bare thought signature) is not output either', () => {
    const signatureOnly = {
      candidates: [{ content: { role: 'model', parts: [{ text: '', thoughtSignature: 'c2ln' }] }, index: 0 }],
      ...envelope,
    };
    const outcome = runDecoder(createGenerateContentStreamDecoder(REQUEST), [sse(signatureOnly, overloaded)]);
    assert.deepEqual(outcome.events, []);
    assert.equal(outcome.failure?.kind, 'overloaded');
  });

  it('the held start keeps the first chunk’s id and model and goes out with the first text', () => {
    const text = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1, totalTokenCount: 5 },
      responseId: 'resp-1',
      modelVersion: 'gemini-2.5-flash',
    };
    const outcome = runDecoder(createGenerateContentStreamDecoder(REQUEST), [sse(thoughtOnly), sse(text)]);
    const expected: ChatEvent[] = [
      { type: 'start', id: 'resp-1', model: 'gemini-2.5-flash' },
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { promptTokens: 4, completionTokens: 1, totalTokens: 5 } },
    ];
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(outcome.events, expected);
  });

  it('a whole body without parts still starts with start', () => {
    const events = decodeGenerateContent(
      { candidates: [{ index: 0 }], ...envelope },
      { ...REQUEST, stream: false },
    );
    assert.deepEqual(events, [
      { type: 'start', id: 'resp-1', model: 'gemini-2.5-flash' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });
});

describe('Anthropic streams: start waits for output, not for a block', () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const sse = (...events: [string, unknown][]) =>
    utf8(
      events
        .map(
          ([name, data]) =>
            `event: ${name}\ndata: ${JSON.stringify({ type: name, ...(data as object) })}\n\n`,
        )
        .join(''),
    );
  const opening: [string, unknown] = [
    'message_start',
    { message: { id: 'msg_1', model: 'claude-sonnet-4-6', usage: { input_tokens: 3, output_tokens: 1 } } },
  ];
  const overloaded: [string, unknown] = [
    'error',
    { error: { type: 'overloaded_error', message: 'Overloaded' } },
  ];

  for (const [name, block] of [
    ['an empty text block', { type: 'text', text: '' }],
    ['a thinking block', { type: 'thinking', thinking: '', signature: '' }],
  ] as const) {
    it(`${name} then overloaded_error: no event, a retryable overload`, () => {
      const bytes = sse(
        opening,
        ['content_block_start', { index: 0, content_block: block }],
        ['ping', {}],
        overloaded,
      );
      const outcome = runDecoder(createMessagesStreamDecoder(REQUEST), [bytes]);
      assert.deepEqual(outcome.events, []);
      assert.equal(outcome.failure?.kind, 'overloaded');
      assert.equal(outcome.failure?.retryable, true);
    });
  }

  it('start goes out with the first text delta', () => {
    const bytes = sse(
      opening,
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }],
      overloaded,
    );
    const outcome = runDecoder(createMessagesStreamDecoder(REQUEST), [bytes]);
    assert.deepEqual(outcome.events, [
      { type: 'start', id: 'msg_1', model: 'claude-sonnet-4-6' },
      { type: 'text', choice: 0, text: 'Hi' },
    ]);
    assert.equal(outcome.failure?.kind, 'overloaded');
  });
});

describe('OpenAI-family streams: start waits for output, not for the role chunk', () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const sse = (...chunks: unknown[]) => utf8(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join(''));
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o' };
  const role = {
    ...base,
    choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null }],
  };
  const azurePrelude = { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [] };
  const serverError = {
    error: { message: 'The server had an error', type: 'server_error', param: null, code: null },
  };

  it('the role chunk (after Azure’s prelude) then an in-band error: no event, a retryable failure', () => {
    for (const bytes of [sse(role, serverError), sse(azurePrelude, role, serverError)]) {
      for (const { name, chunks } of chunkings(bytes)) {
        const outcome = runDecoder(createChatStreamDecoder(), chunks);
        assert.deepEqual(outcome.events, [], name);
        assert.equal(outcome.failure?.kind, 'server', name);
        assert.equal(outcome.failure?.retryable, true, name);
      }
    }
  });

  it('the held start keeps the first chunk’s id and goes out with the first text', () => {
    const text = { ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] };
    const outcome = runDecoder(createChatStreamDecoder(), [sse(role), sse(text, serverError)]);
    assert.deepEqual(outcome.events, [
      { type: 'start', id: 'chatcmpl-1', created: 1_700_000_000, model: 'gpt-4o' },
      { type: 'text', choice: 0, text: 'Hi' },
    ]);
    assert.equal(outcome.failure?.kind, 'server');
  });
});

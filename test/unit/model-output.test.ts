/**
 * A model's failure is not a cloud's failure (issue 11, item 5): finish reasons that say the model
 * produced bad output fail the attempt with kind `model_output` (retryable: another deployment may
 * answer; not a kind the health tracker counts), streamed or not, with a message naming the cause.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../src/core/chat.ts';
import { RETRYABLE_KINDS } from '../../src/core/upstream.ts';
import { decodeConverseResponse } from '../../src/providers/bedrock/decode.ts';
import { createConverseStreamDecoder } from '../../src/providers/bedrock/decode-stream.ts';
import {
  createGenerateContentStreamDecoder,
  decodeGenerateContent,
} from '../../src/providers/google/decode.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/providers/types.ts';
import { eventFrame } from '../../src/sim/bedrock-stream.ts';
import { runDecoder } from './helpers.ts';

const REQUEST: ChatRequest = {
  model: 'm',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  stream: false,
  includeUsage: false,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};
const STREAM: ChatRequest = { ...REQUEST, stream: true, includeUsage: true };

function failureOf(fn: () => unknown): UpstreamFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof UpstreamError) return err.failure;
    throw err;
  }
  assert.fail('expected an UpstreamError');
}

const GEMINI: [reason: string, message: string][] = [
  [
    'MALFORMED_FUNCTION_CALL',
    'the model produced a malformed function call (Gemini finishReason MALFORMED_FUNCTION_CALL)',
  ],
  [
    'UNEXPECTED_TOOL_CALL',
    'the model called a tool that the request did not enable (Gemini finishReason UNEXPECTED_TOOL_CALL)',
  ],
  [
    'TOO_MANY_TOOL_CALLS',
    'the model called too many tools in a row (Gemini finishReason TOO_MANY_TOOL_CALLS)',
  ],
  ['MALFORMED_RESPONSE', 'the model produced a malformed response (Gemini finishReason MALFORMED_RESPONSE)'],
];

const BEDROCK: [reason: string, message: string][] = [
  [
    'malformed_model_output',
    'the model produced output Bedrock could not parse (Bedrock stopReason malformed_model_output)',
  ],
  ['malformed_tool_use', 'the model produced a malformed tool call (Bedrock stopReason malformed_tool_use)'],
];

const expected = (message: string): UpstreamFailure => ({ kind: 'model_output', retryable: true, message });

describe('model_output failures', () => {
  it('the kind is retryable: another deployment may produce valid output', () => {
    assert.equal(RETRYABLE_KINDS.model_output, true);
  });

  for (const [reason, message] of GEMINI) {
    it(`Gemini ${reason}: non-streaming and streaming`, () => {
      const body = {
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: reason, index: 0 }],
        responseId: 'r',
        modelVersion: 'gemini-2.5-flash',
      };
      assert.deepEqual(
        failureOf(() => decodeGenerateContent(body, REQUEST)),
        expected(message),
      );
      const bytes = new TextEncoder().encode(`data: ${JSON.stringify(body)}\n\n`);
      const outcome = runDecoder(createGenerateContentStreamDecoder(STREAM), [bytes]);
      assert.deepEqual(outcome.failure, expected(message));
      // Nothing was output before it, so nothing reached the client: failover stays invisible.
      assert.deepEqual(outcome.events, []);
    });
  }

  for (const [reason, message] of BEDROCK) {
    it(`Bedrock ${reason}: non-streaming and streaming`, () => {
      const body = { output: { message: { role: 'assistant', content: [] } }, stopReason: reason };
      assert.deepEqual(
        failureOf(() => decodeConverseResponse(body, REQUEST)),
        expected(message),
      );
      const bytes = new Uint8Array(
        Buffer.concat([
          eventFrame('messageStart', { role: 'assistant' }),
          eventFrame('messageStop', { stopReason: reason }),
          eventFrame('metadata', { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } }),
        ]),
      );
      const outcome = runDecoder(createConverseStreamDecoder(STREAM), [bytes]);
      assert.deepEqual(outcome.failure, expected(message));
      assert.deepEqual(outcome.events, []);
    });
  }

  it('Gemini CONTINUATION cut the answer at the per-request limit: finish length, not a failure', () => {
    const body = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'Part' }] }, finishReason: 'CONTINUATION' }],
    };
    const finish = decodeGenerateContent(body, REQUEST).find((e) => e.type === 'finish');
    assert.deepEqual(finish, { type: 'finish', choice: 0, reason: 'length' });
  });
});

/** Egress: a whole ChatEvent list → OpenAI's non-streaming `chat.completion` body. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CompletionMeta, collectCompletion } from '../../src/egress/openai/chat-completion.ts';
import { decodeChatCompletion } from '../../src/providers/openai/decode.ts';
import { fixtureJson } from './helpers.ts';

const META: CompletionMeta = { id: 'chatcmpl-gw0002', model: 'gpt-5', created: 1766200100 };

const HEAD = { id: META.id, object: 'chat.completion', created: META.created, model: META.model };

describe('collectCompletion', () => {
  it('text: deltas joined, usage with details, system_fingerprint from the start event', () => {
    const body = collectCompletion(
      [
        { type: 'start', systemFingerprint: 'fp_abc' },
        { type: 'text', choice: 0, text: 'Hel' },
        { type: 'text', choice: 0, text: 'lo' },
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'usage', usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11, cachedTokens: 4 } },
      ],
      META,
    );
    assert.deepEqual(body, {
      ...HEAD,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 9,
        completion_tokens: 2,
        total_tokens: 11,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
      system_fingerprint: 'fp_abc',
    });
  });

  it('refusal: content null, refusal joined', () => {
    const body = collectCompletion(
      [
        { type: 'start' },
        { type: 'refusal', choice: 0, text: "I can't" },
        { type: 'refusal', choice: 0, text: ' help with that.' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ],
      META,
    );
    assert.deepEqual(body, {
      ...HEAD,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, refusal: "I can't help with that." },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      system_fingerprint: null,
    });
  });

  it('tool calls: content null, calls in index order, empty arguments become "{}"', () => {
    const body = collectCompletion(
      [
        { type: 'start' },
        { type: 'tool_call_start', choice: 0, index: 1, id: 'call_b', name: 'get_time' },
        { type: 'tool_call_start', choice: 0, index: 0, id: 'call_a', name: 'get_weather' },
        { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":' },
        { type: 'tool_call_delta', choice: 0, index: 0, arguments: '"Paris"}' },
        { type: 'tool_call_delta', choice: 0, index: 7, arguments: 'orphan' },
        { type: 'finish', choice: 0, reason: 'tool_calls' },
      ],
      META,
    );
    assert.deepEqual(body.choices, [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: 'call_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ]);
  });

  it('text and tool calls together keep the text', () => {
    const body = collectCompletion(
      [
        { type: 'text', choice: 0, text: 'Let me check.' },
        { type: 'tool_call_start', choice: 0, index: 0, id: 'call_a', name: 'f' },
        { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{}' },
        { type: 'finish', choice: 0, reason: 'tool_calls' },
      ],
      META,
    );
    const [c] = body.choices as { message: { content: unknown } }[];
    assert.equal(c?.message.content, 'Let me check.');
  });

  it('logprobs are concatenated across text events as {content, refusal: null}', () => {
    const a = { token: 'Hel', logprob: -0.1, bytes: [72, 101, 108], top_logprobs: [] };
    const b = { token: 'lo', logprob: -0.2, bytes: [108, 111], top_logprobs: [] };
    const body = collectCompletion(
      [
        { type: 'text', choice: 0, text: 'Hel', logprobs: [a] },
        { type: 'text', choice: 0, text: 'lo', logprobs: [b] },
        { type: 'finish', choice: 0, reason: 'stop' },
      ],
      META,
    );
    const [c] = body.choices as { logprobs: unknown }[];
    assert.deepEqual(c?.logprobs, { content: [a, b], refusal: null });
  });

  it('a missing finish reason becomes "stop"; an empty answer is content ""', () => {
    const body = collectCompletion([{ type: 'start' }], META);
    assert.deepEqual(body.choices, [
      {
        index: 0,
        message: { role: 'assistant', content: '', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ]);
    assert.equal('usage' in body, false);
  });

  it('n=2: choices sorted by index whatever order they arrived in', () => {
    const body = collectCompletion(
      [
        { type: 'text', choice: 1, text: 'B' },
        { type: 'finish', choice: 1, reason: 'length' },
        { type: 'text', choice: 0, text: 'A' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ],
      META,
    );
    assert.deepEqual(
      (body.choices as { index: number; message: { content: string }; finish_reason: string }[]).map((c) => [
        c.index,
        c.message.content,
        c.finish_reason,
      ]),
      [
        [0, 'A', 'stop'],
        [1, 'B', 'length'],
      ],
    );
  });

  it('decode then collect: an upstream completion comes back in OpenAI shape under the gateway meta', () => {
    const body = collectCompletion(decodeChatCompletion(fixtureJson('openai-completion-tools.json')), META);
    assert.deepEqual(body, {
      ...HEAD,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: 'call_Ab12Cd34Ef56Gh78Ij90Kl12',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_Mn34Op56Qr78St90Uv12Wx34',
                type: 'function',
                function: { name: 'get_time', arguments: '{}' },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 95,
        completion_tokens: 40,
        total_tokens: 135,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
      system_fingerprint: 'fp_799e4ca3f1',
    });
  });
});

/**
 * Ingress: OpenAI chat-completions bodies → ChatRequest, and every rejection as a 400 that names
 * the field (`param`) and the rule (message).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../src/core/chat.ts';
import { parseChatBody } from '../../src/ingress/openai/chat.ts';
import { PASSTHROUGH_FIELDS } from '../../src/ingress/openai/chat-schema.ts';
import { formatPath } from '../../src/ingress/openai/issues.ts';
import { assertInvalid } from './helpers.ts';

const USER_HI = { role: 'user', content: 'Hello' } as const;
const base = { model: 'gpt-5', messages: [USER_HI] };

/** The ChatRequest for `base` with nothing optional set. */
const MINIMAL: ChatRequest = {
  model: 'gpt-5',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
  stream: false,
  includeUsage: false,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  },
} as const;

describe('parseChatBody: valid bodies', () => {
  it('a minimal body gives the minimal request (string content becomes one text part)', () => {
    assert.deepEqual(parseChatBody(base), MINIMAL);
  });

  it('a whole conversation: developer/system, parts, images, tool calls, tool results, refusal', () => {
    const body = {
      model: 'gpt-5',
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
            { type: 'text', text: 'What is in these pictures, and the weather in Paris and Oslo?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
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
            {
              id: 'call_b2',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a1', content: '18C, sunny' },
        { role: 'tool', tool_call_id: 'call_b2', content: [{ type: 'text', text: '4C, snow' }] },
        { role: 'assistant', content: 'Un chat. Paris: 18C. Oslo: 4C.', name: 'bot' },
        { role: 'user', content: 'Now something forbidden.' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] },
        { role: 'assistant', content: '', refusal: 'Still no.' },
      ],
      tools: [WEATHER_TOOL],
    };
    const request = parseChatBody(body);
    assert.deepEqual(request.messages, [
      { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
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
          { type: 'text', text: 'What is in these pictures, and the weather in Paris and Oslo?' },
          { type: 'image', url: 'https://example.com/cat.png', detail: 'high' },
          { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
        ],
      },
      {
        role: 'assistant',
        content: [],
        toolCalls: [
          { id: 'call_a1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_b2', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_a1', content: [{ type: 'text', text: '18C, sunny' }] },
      { role: 'tool', toolCallId: 'call_b2', content: [{ type: 'text', text: '4C, snow' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'Un chat. Paris: 18C. Oslo: 4C.' }],
        toolCalls: [],
        name: 'bot',
      },
      { role: 'user', content: [{ type: 'text', text: 'Now something forbidden.' }] },
      { role: 'assistant', content: [], toolCalls: [], refusal: 'I cannot help with that.' },
      { role: 'assistant', content: [], toolCalls: [], refusal: 'Still no.' },
    ]);
    assert.deepEqual(request.tools, [
      {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    ]);
  });

  it('an assistant message without content at all is accepted (tool calls only)', () => {
    const request = parseChatBody({
      model: 'm',
      messages: [
        USER_HI,
        {
          role: 'assistant',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'ping', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'pong' },
      ],
      tools: [{ type: 'function', function: { name: 'ping' } }],
    });
    assert.deepEqual(request.messages[1], {
      role: 'assistant',
      content: [],
      toolCalls: [{ id: 'call_1', name: 'ping', arguments: '{}' }],
    });
    // A tool without description or parameters stays bare (no undefined keys).
    assert.deepEqual(request.tools, [{ name: 'ping' }]);
  });

  it('stop: a string becomes a one-item list, a list is kept, null means none', () => {
    assert.deepEqual(parseChatBody({ ...base, stop: 'END' }).stop, ['END']);
    assert.deepEqual(parseChatBody({ ...base, stop: ['a', 'b', 'c', 'd'] }).stop, ['a', 'b', 'c', 'd']);
    assert.deepEqual(parseChatBody({ ...base, stop: null }).stop, []);
  });

  it('max_tokens and max_completion_tokens: the value and which field the client used', () => {
    const legacy = parseChatBody({ ...base, max_tokens: 256 });
    assert.equal(legacy.maxTokens, 256);
    assert.equal(legacy.maxTokensField, 'max_tokens');

    const modern = parseChatBody({ ...base, max_completion_tokens: 512 });
    assert.equal(modern.maxTokens, 512);
    assert.equal(modern.maxTokensField, 'max_completion_tokens');

    // Both sent: max_completion_tokens is the one that counts.
    const both = parseChatBody({ ...base, max_tokens: 10, max_completion_tokens: 20 });
    assert.equal(both.maxTokens, 20);
    assert.equal(both.maxTokensField, 'max_completion_tokens');

    const neither = parseChatBody({ ...base, max_tokens: null });
    assert.equal('maxTokens' in neither, false);
    assert.equal('maxTokensField' in neither, false);
  });

  it('stream_options.include_usage only counts with stream: true', () => {
    const withUsage = parseChatBody({ ...base, stream: true, stream_options: { include_usage: true } });
    assert.equal(withUsage.stream, true);
    assert.equal(withUsage.includeUsage, true);

    const streamOnly = parseChatBody({ ...base, stream: true });
    assert.equal(streamOnly.stream, true);
    assert.equal(streamOnly.includeUsage, false);

    const noUsage = parseChatBody({ ...base, stream: true, stream_options: { include_usage: false } });
    assert.equal(noUsage.includeUsage, false);

    // stream: null and stream_options: null are "not given".
    const nulls = parseChatBody({ ...base, stream: null, stream_options: null });
    assert.equal(nulls.stream, false);
    assert.equal(nulls.includeUsage, false);
  });

  it('sampling, seed and user: zero values are kept, null values are dropped', () => {
    const zeros = parseChatBody({ ...base, temperature: 0, top_p: 0, seed: 0, user: 'u-1' });
    assert.equal(zeros.temperature, 0);
    assert.equal(zeros.topP, 0);
    assert.equal(zeros.seed, 0);
    assert.equal(zeros.user, 'u-1');

    const edges = parseChatBody({ ...base, temperature: 2, top_p: 1, seed: -7 });
    assert.equal(edges.temperature, 2);
    assert.equal(edges.topP, 1);
    assert.equal(edges.seed, -7);

    assert.deepEqual(parseChatBody({ ...base, temperature: null, top_p: null, seed: null }), MINIMAL);
  });

  it('OpenAI-only parameters land in request.openai', () => {
    const request = parseChatBody({
      ...base,
      n: 2,
      logprobs: true,
      top_logprobs: 5,
      frequency_penalty: -0.5,
      presence_penalty: 1.5,
      logit_bias: { '50256': -100, '13': 2 },
    });
    assert.deepEqual(request.openai, {
      n: 2,
      logprobs: true,
      topLogprobs: 5,
      frequencyPenalty: -0.5,
      presencePenalty: 1.5,
      logitBias: { '50256': -100, '13': 2 },
      passthrough: {},
    });
  });

  it('passthrough fields travel verbatim; null ones are dropped', () => {
    const request = parseChatBody({
      ...base,
      reasoning_effort: 'high',
      verbosity: 'low',
      service_tier: 'flex',
      metadata: { team: 'research', ticket: 'T-1' },
      store: false,
      prompt_cache_key: 'tenant-42',
      prompt_cache_retention: '24h',
      safety_identifier: 'user-hash-1',
      modalities: ['text'],
      prediction: { type: 'content', content: 'draft' },
    });
    assert.deepEqual(request.openai.passthrough, {
      reasoning_effort: 'high',
      verbosity: 'low',
      service_tier: 'flex',
      metadata: { team: 'research', ticket: 'T-1' },
      store: false,
      prompt_cache_key: 'tenant-42',
      prompt_cache_retention: '24h',
      safety_identifier: 'user-hash-1',
      modalities: ['text'],
      prediction: { type: 'content', content: 'draft' },
    });
    // Every declared passthrough field was exercised above.
    assert.deepEqual(Object.keys(request.openai.passthrough).sort(), [...PASSTHROUGH_FIELDS].sort());

    const nulls = parseChatBody({ ...base, reasoning_effort: null, service_tier: null, metadata: null });
    assert.deepEqual(nulls.openai.passthrough, {});
  });

  it('tool_choice: every shape, and none is allowed without tools', () => {
    const withTools = { ...base, tools: [WEATHER_TOOL] };
    assert.deepEqual(parseChatBody({ ...withTools, tool_choice: 'auto' }).toolChoice, { type: 'auto' });
    assert.deepEqual(parseChatBody({ ...withTools, tool_choice: 'required' }).toolChoice, {
      type: 'required',
    });
    assert.deepEqual(parseChatBody({ ...withTools, tool_choice: 'none' }).toolChoice, { type: 'none' });
    assert.deepEqual(
      parseChatBody({ ...withTools, tool_choice: { type: 'function', function: { name: 'get_weather' } } })
        .toolChoice,
      { type: 'function', name: 'get_weather' },
    );
    assert.deepEqual(parseChatBody({ ...base, tool_choice: 'none' }).toolChoice, { type: 'none' });
    assert.equal(parseChatBody(withTools).toolChoice, undefined);
    assert.equal(parseChatBody({ ...withTools, parallel_tool_calls: false }).parallelToolCalls, false);
  });

  it('tool strict: null is dropped, false is kept', () => {
    const request = parseChatBody({
      ...base,
      tools: [
        { type: 'function', function: { name: 'a', strict: null } },
        { type: 'function', function: { name: 'b', strict: false } },
      ],
    });
    assert.deepEqual(request.tools, [{ name: 'a' }, { name: 'b', strict: false }]);
  });

  it('response_format: text, json_object, json_schema', () => {
    assert.deepEqual(parseChatBody({ ...base, response_format: { type: 'text' } }).responseFormat, {
      type: 'text',
    });
    assert.deepEqual(parseChatBody({ ...base, response_format: { type: 'json_object' } }).responseFormat, {
      type: 'json_object',
    });
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    assert.deepEqual(
      parseChatBody({
        ...base,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer_v1', description: 'The answer', schema, strict: true },
        },
      }).responseFormat,
      { type: 'json_schema', name: 'answer_v1', description: 'The answer', schema, strict: true },
    );
    assert.deepEqual(
      parseChatBody({
        ...base,
        response_format: { type: 'json_schema', json_schema: { name: 'x', strict: null } },
      }).responseFormat,
      { type: 'json_schema', name: 'x' },
    );
  });

  it('a user text part list keeps every part in order', () => {
    const request = parseChatBody({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'one' },
            { type: 'text', text: 'two' },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
    ]);
  });
});

describe('parseChatBody: rejections name the field and the rule', () => {
  it('temperature 2.5', () => {
    assertInvalid(() => parseChatBody({ ...base, temperature: 2.5 }), {
      param: 'temperature',
      message: 'temperature: must be between 0 and 2',
    });
    assertInvalid(() => parseChatBody({ ...base, temperature: -0.1 }), {
      param: 'temperature',
      message: 'temperature: must be between 0 and 2',
    });
  });

  it('top_p 1.5', () => {
    assertInvalid(() => parseChatBody({ ...base, top_p: 1.5 }), {
      param: 'top_p',
      message: 'top_p: must be between 0 and 1',
    });
  });

  it('max_tokens 0 and max_completion_tokens 0', () => {
    assertInvalid(() => parseChatBody({ ...base, max_tokens: 0 }), {
      param: 'max_tokens',
      message: 'max_tokens: must be at least 1',
    });
    assertInvalid(() => parseChatBody({ ...base, max_completion_tokens: 0 }), {
      param: 'max_completion_tokens',
      message: 'max_completion_tokens: must be at least 1',
    });
  });

  it('max_tokens 1.5 is refused as "must be an integer"', () => {
    assertInvalid(() => parseChatBody({ ...base, max_tokens: 1.5 }), {
      param: 'max_tokens',
      message: 'max_tokens: must be an integer',
    });
  });

  it('max_tokens 1.5 is at least refused with param max_tokens (the part that works today)', () => {
    assertInvalid(() => parseChatBody({ ...base, max_tokens: 1.5 }), {
      param: 'max_tokens',
      message: /^max_tokens: /,
    });
  });

  it('a value of the wrong type says what type was expected, not "is required"', () => {
    assertInvalid(() => parseChatBody({ ...base, temperature: 'hot' }), {
      param: 'temperature',
      message: /^temperature: expected number/,
    });
    assertInvalid(() => parseChatBody({ ...base, model: 5 }), {
      param: 'model',
      message: /^model: expected string/,
    });
    assertInvalid(() => parseChatBody({ ...base, seed: 1.5 }), {
      param: 'seed',
      message: 'seed: must be an integer',
    });
    assertInvalid(() => parseChatBody('hello'), { param: null, message: /^body: expected object/ });
  });

  it('stop with 5 entries names the limit', () => {
    assertInvalid(() => parseChatBody({ ...base, stop: ['a', 'b', 'c', 'd', 'e'] }), {
      param: 'stop',
      message: 'stop: at most 4 stop sequences',
    });
  });

  it('stop with 5 entries is at least refused with param stop (the part that works today)', () => {
    assertInvalid(() => parseChatBody({ ...base, stop: ['a', 'b', 'c', 'd', 'e'] }), {
      param: 'stop',
      message: /^stop: /,
    });
  });

  it('n 0', () => {
    assertInvalid(() => parseChatBody({ ...base, n: 0 }), {
      param: 'n',
      message: 'n: must be between 1 and 128',
    });
  });

  it('top_logprobs without logprobs, and out of range', () => {
    assertInvalid(() => parseChatBody({ ...base, top_logprobs: 3 }), {
      param: 'top_logprobs',
      message: 'top_logprobs: requires logprobs to be true',
    });
    assertInvalid(() => parseChatBody({ ...base, logprobs: false, top_logprobs: 3 }), {
      param: 'top_logprobs',
      message: 'top_logprobs: requires logprobs to be true',
    });
    assertInvalid(() => parseChatBody({ ...base, logprobs: true, top_logprobs: 21 }), {
      param: 'top_logprobs',
      message: 'top_logprobs: must be between 0 and 20',
    });
  });

  it('tool_choice without tools', () => {
    assertInvalid(() => parseChatBody({ ...base, tool_choice: 'auto' }), {
      param: 'tool_choice',
      message: 'tool_choice: is only allowed when tools are specified',
    });
    assertInvalid(
      () => parseChatBody({ ...base, tool_choice: { type: 'function', function: { name: 'x' } } }),
      {
        param: 'tool_choice',
        message: 'tool_choice: is only allowed when tools are specified',
      },
    );
  });

  it('parallel_tool_calls without tools', () => {
    assertInvalid(() => parseChatBody({ ...base, parallel_tool_calls: true }), {
      param: 'parallel_tool_calls',
      message: 'parallel_tool_calls: is only allowed when tools are specified',
    });
  });

  it('tool_choice naming an unknown tool', () => {
    assertInvalid(
      () =>
        parseChatBody({
          ...base,
          tools: [WEATHER_TOOL],
          tool_choice: { type: 'function', function: { name: 'get_time' } },
        }),
      {
        param: 'tool_choice.function.name',
        message: 'tool_choice.function.name: names no tool in tools: "get_time"',
      },
    );
  });

  it('a tool message whose tool_call_id answers no earlier call', () => {
    assertInvalid(
      () =>
        parseChatBody({
          model: 'm',
          messages: [USER_HI, { role: 'tool', tool_call_id: 'call_404', content: 'result' }],
        }),
      {
        param: 'messages[1].tool_call_id',
        message:
          'messages[1].tool_call_id: must answer a tool call of an earlier assistant message ("call_404" was not found)',
      },
    );
    // The call must come earlier, not later.
    assertInvalid(
      () =>
        parseChatBody({
          model: 'm',
          messages: [
            USER_HI,
            { role: 'tool', tool_call_id: 'call_1', content: 'early' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
            },
          ],
        }),
      { param: 'messages[1].tool_call_id', message: /"call_1" was not found/ },
    );
  });

  it('a tool message without tool_call_id', () => {
    assertInvalid(() => parseChatBody({ model: 'm', messages: [{ role: 'tool', content: 'x' }] }), {
      param: 'messages[0].tool_call_id',
      message: 'messages[0].tool_call_id: is required',
    });
  });

  it('an unknown top-level field is named (one and several)', () => {
    assertInvalid(() => parseChatBody({ ...base, foo: 1 }), {
      param: null,
      message: 'body: unrecognized argument "foo"',
    });
    assertInvalid(() => parseChatBody({ ...base, foo: 1, functions: [] }), {
      param: null,
      message: 'body: unrecognized arguments "foo", "functions"',
    });
  });

  it('missing model, missing messages, empty model', () => {
    assertInvalid(() => parseChatBody({ messages: [USER_HI] }), {
      param: 'model',
      message: 'model: is required',
    });
    assertInvalid(() => parseChatBody({ model: 'gpt-5' }), {
      param: 'messages',
      message: 'messages: is required',
    });
    assertInvalid(() => parseChatBody({ ...base, model: '' }), {
      param: 'model',
      message: 'model: must not be empty',
    });
  });

  it('empty messages', () => {
    assertInvalid(() => parseChatBody({ model: 'gpt-5', messages: [] }), {
      param: 'messages',
      message: 'messages: must contain at least one message',
    });
  });

  it('user content as an empty array', () => {
    assertInvalid(() => parseChatBody({ model: 'gpt-5', messages: [{ role: 'user', content: [] }] }), {
      param: 'messages[0].content',
      message: 'messages[0].content: must not be empty',
    });
  });

  it('a bad image URL', () => {
    for (const url of ['ftp://example.com/cat.png', 'cat.png', 'data:text/plain;base64,aGk=']) {
      assertInvalid(
        () =>
          parseChatBody({
            model: 'gpt-5',
            messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
          }),
        {
          param: 'messages[0].content[0].image_url.url',
          message: 'messages[0].content[0].image_url.url: must be an http(s) URL or a data:image/ URL',
        },
      );
    }
  });

  it('a tool name with spaces (and one too long)', () => {
    assertInvalid(
      () => parseChatBody({ ...base, tools: [{ type: 'function', function: { name: 'get weather' } }] }),
      {
        param: 'tools[0].function.name',
        message: 'tools[0].function.name: must be 1-64 characters of a-z, A-Z, 0-9, _ or -',
      },
    );
    assertInvalid(
      () => parseChatBody({ ...base, tools: [{ type: 'function', function: { name: 'x'.repeat(65) } }] }),
      { param: 'tools[0].function.name', message: /must be 1-64 characters/ },
    );
  });

  it('an assistant tool call with a bad function name', () => {
    assertInvalid(
      () =>
        parseChatBody({
          model: 'm',
          messages: [
            USER_HI,
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'a b', arguments: '{}' } }],
            },
          ],
        }),
      { param: 'messages[1].tool_calls[0].function.name', message: /must be 1-64 characters/ },
    );
  });

  it('stream_options without stream: true', () => {
    assertInvalid(() => parseChatBody({ ...base, stream_options: { include_usage: true } }), {
      param: 'stream_options',
      message: 'stream_options: is only allowed when stream is true',
    });
    assertInvalid(() => parseChatBody({ ...base, stream: false, stream_options: { include_usage: true } }), {
      param: 'stream_options',
      message: 'stream_options: is only allowed when stream is true',
    });
  });

  it('a json_schema response_format with a bad name', () => {
    assertInvalid(
      () =>
        parseChatBody({
          ...base,
          response_format: { type: 'json_schema', json_schema: { name: 'my schema' } },
        }),
      { param: 'response_format.json_schema.name', message: /must be 1-64 characters/ },
    );
  });

  it('penalties and logit_bias out of range', () => {
    assertInvalid(() => parseChatBody({ ...base, frequency_penalty: 2.1 }), {
      param: 'frequency_penalty',
      message: 'frequency_penalty: must be between -2 and 2',
    });
    assertInvalid(() => parseChatBody({ ...base, presence_penalty: -3 }), {
      param: 'presence_penalty',
      message: 'presence_penalty: must be between -2 and 2',
    });
    assertInvalid(() => parseChatBody({ ...base, logit_bias: { '1': 101 } }), {
      param: 'logit_bias.1',
      message: /^logit_bias\.1: /,
    });
  });

  it('an unknown role names messages[i].role', () => {
    assertInvalid(() => parseChatBody({ model: 'm', messages: [{ role: 'robot', content: 'beep' }] }), {
      param: 'messages[0].role',
      message: /^messages\[0\]\.role: /,
    });
  });

  it('a body that is not an object', () => {
    for (const body of [null, 'hello', 42, []]) {
      assertInvalid(() => parseChatBody(body), { param: null, message: /^body: / });
    }
  });
});

describe('formatPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    assert.equal(formatPath([]), '');
    assert.equal(formatPath(['model']), 'model');
    assert.equal(
      formatPath(['messages', 3, 'content', 0, 'image_url', 'url']),
      'messages[3].content[0].image_url.url',
    );
    assert.equal(formatPath([0, 'x']), '[0].x');
  });
});

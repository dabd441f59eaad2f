/**
 * Fidelity of the simulated OpenAI, driven by the official openai SDK (v7).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { collect, field, postJson, sseData, useSim } from './helpers.ts';

const sim = await useSim({
  kind: 'openai',
  apiKeys: ['sk-test-1'],
  models: ['gpt-4o-mini', 'text-embedding-3-small'],
});
const client = new OpenAI({ apiKey: 'sk-test-1', baseURL: `${sim.url}/v1`, maxRetries: 0 });
const model = 'gpt-4o-mini';

const weather: ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
    },
  },
};
const time: ChatCompletionFunctionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
};

/** Reassembles streamed tool calls by index, the way a client must. */
function assembleToolCalls(chunks: ChatCompletionChunk[]) {
  const calls: { id: string; name: string; args: string }[] = [];
  for (const chunk of chunks) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
      calls[delta.index] ??= { id: '', name: '', args: '' };
      const call = calls[delta.index]!;
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name = delta.function.name;
      call.args += delta.function?.arguments ?? '';
    }
  }
  return calls;
}

describe('openai sim: chat completions', () => {
  it('answers a non-streaming request with OpenAI fields and headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'hi there' }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.match(data.id, /^chatcmpl-/);
    assert.equal(data.model, model);
    assert.equal(
      data.choices[0]!.message.content,
      'Hello from simulated OpenAI (gpt-4o-mini). You said: hi there',
    );
    assert.equal(data.choices[0]!.message.refusal, null);
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.equal(data.choices[0]!.logprobs, null);
    assert.deepEqual(data.usage, {
      prompt_tokens: 2,
      completion_tokens: 9,
      total_tokens: 11,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '10000');
    assert.equal(response.headers.get('x-ratelimit-reset-tokens'), '2ms');
  });

  it('streams role chunk, content chunks, a separate finish chunk and no usage chunk by default', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'stream me' }],
        stream: true,
      }),
    );
    const first = chunks[0]!;
    assert.deepEqual(first.choices[0]!.delta, { role: 'assistant', content: '', refusal: null });
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices[0]!.delta, {});
    assert.equal(last.choices[0]!.finish_reason, 'stop');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Hello from simulated OpenAI (gpt-4o-mini). You said: stream me');
    assert.ok(chunks.every((c) => c.choices.length === 1 && !('usage' in c)));
    assert.ok(chunks.every((c) => c.id === first.id && c.created === first.created));
    assert.ok(chunks.every((c) => typeof (c as unknown as Record<string, unknown>).obfuscation === 'string'));
  });

  it('adds the choices:[] usage chunk only with include_usage, earlier chunks carry usage:null', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: '[sim:words=4]' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const usageChunk = chunks.at(-1)!;
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage?.completion_tokens, 4);
    assert.equal(usageChunk.usage?.total_tokens, 5);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'stop');
  });

  it('ends the wire stream with data: [DONE] and omits obfuscation when asked', async () => {
    const res = await postJson(
      `${sim.url}/v1/chat/completions`,
      {
        model,
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
        stream_options: { include_obfuscation: false },
      },
      { authorization: 'Bearer sk-test-1' },
    );
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const data = sseData(res.text);
    assert.equal(data.at(-1), '[DONE]');
    assert.ok(data.slice(0, -1).every((d) => !d.includes('obfuscation')));
    assert.ok(!res.text.includes('event:'));
  });

  it('streams a tool call with the OpenAI delta pattern', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'What is the get_weather in Paris?' }],
        tools: [weather, time],
        stream: true,
      }),
    );
    const first = chunks[0]!.choices[0]!.delta;
    assert.equal(first.role, 'assistant');
    assert.equal(first.content, null);
    assert.deepEqual(first.tool_calls?.[0]?.function, { name: 'get_weather', arguments: '' });
    // Later deltas carry only index and an arguments fragment.
    const later = chunks[1]!.choices[0]!.delta.tool_calls![0]!;
    assert.deepEqual(Object.keys(later).sort(), ['function', 'index']);
    const calls = assembleToolCalls(chunks);
    assert.equal(calls.length, 1);
    assert.match(calls[0]!.id, /^call_[A-Za-z0-9]{24}$/);
    assert.deepEqual(JSON.parse(calls[0]!.args), { city: 'sample', unit: 'celsius' });
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'tool_calls');
  });

  it('makes parallel tool calls, streamed with index 0 and 1, or one call without parallel_tool_calls', async () => {
    const messages = [{ role: 'user' as const, content: 'both please' }];
    const chunks = await collect(
      await client.chat.completions.create({
        model,
        messages,
        tools: [weather, time],
        tool_choice: 'required',
        stream: true,
      }),
    );
    const calls = assembleToolCalls(chunks);
    assert.deepEqual(
      calls.map((c) => c.name),
      ['get_weather', 'get_time'],
    );
    assert.deepEqual(JSON.parse(calls[1]!.args), { zone: 'sample' });

    const single = await client.chat.completions.create({
      model,
      messages,
      tools: [weather, time],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    assert.equal(single.choices[0]!.message.tool_calls?.length, 1);
    assert.equal(single.choices[0]!.message.content, null);
    assert.equal(single.choices[0]!.finish_reason, 'tool_calls');
  });

  it('round-trips tool results with their call ids', async () => {
    const first = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'weather and time [sim:tool]' }],
      tools: [weather, time],
    });
    const calls = first.choices[0]!.message.tool_calls ?? [];
    assert.equal(calls.length, 2);
    const second = await client.chat.completions.create({
      model,
      tools: [weather, time],
      messages: [
        { role: 'user', content: 'weather and time [sim:tool]' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: calls[0]!.id, content: 'sunny' },
        { role: 'tool', tool_call_id: calls[1]!.id, content: [{ type: 'text', text: 'noon' }] },
      ],
    });
    assert.equal(
      second.choices[0]!.message.content,
      `Tool results: ${calls[0]!.id}=sunny; ${calls[1]!.id}=noon`,
    );
    assert.equal(second.choices[0]!.finish_reason, 'stop');
  });

  it('rejects tool messages that answer no call, like OpenAI', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'tool', tool_call_id: 'call_nope', content: 'y' },
        ],
      }),
      (error) => error instanceof OpenAI.BadRequestError && error.param === 'messages.[1].role',
    );
  });

  it('answers json_schema with a document following the schema', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'extract' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          strict: true,
          schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } } },
        },
      },
    });
    assert.deepEqual(JSON.parse(completion.choices[0]!.message.content!), { name: 'sample', age: 1 });
  });

  it('honours max_tokens (finish length) and stop', async () => {
    const limited = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: '[sim:words=10]' }],
      max_completion_tokens: 3,
    });
    assert.equal(limited.choices[0]!.message.content, 'word1 word2 word3');
    assert.equal(limited.choices[0]!.finish_reason, 'length');
    assert.equal(limited.usage?.completion_tokens, 3);
    const stopped = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: '[sim:words=10]' }],
      stop: [' word4'],
    });
    assert.equal(stopped.choices[0]!.message.content, 'word1 word2 word3');
    assert.equal(stopped.choices[0]!.finish_reason, 'stop');
  });

  it('counts images and says so', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
      ],
    });
    assert.equal(
      completion.choices[0]!.message.content,
      'Hello from simulated OpenAI (gpt-4o-mini). You said: what is this Saw 1 image(s).',
    );
    assert.equal(completion.usage?.prompt_tokens, 3 + 85);
  });

  it('[sim:finish=content_filter] gives finish_reason content_filter on OpenAI', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'x [sim:finish=content_filter]' }],
    });
    assert.equal(completion.choices[0]!.finish_reason, 'content_filter');
    assert.equal(completion.choices[0]!.message.content, '');
  });

  it('returns n choices, interleaved by index when streaming', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: '[sim:words=2]' }],
        n: 2,
        stream: true,
      }),
    );
    assert.deepEqual(
      chunks.slice(0, 4).map((c) => c.choices[0]!.index),
      [0, 1, 0, 1],
    );
    const text = (i: number) =>
      chunks
        .filter((c) => c.choices[0]?.index === i)
        .map((c) => c.choices[0]!.delta.content ?? '')
        .join('');
    assert.equal(text(0), 'word1 word2');
    assert.equal(text(1), 'word1 word2');
  });
});

describe('openai sim: errors', () => {
  it('401 for a missing or wrong key', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong-key-123456', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    await assert.rejects(
      wrong.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
      (error) =>
        error instanceof OpenAI.AuthenticationError &&
        error.code === 'invalid_api_key' &&
        error.message.includes('Incorrect API key provided: sk-************3456'),
    );
    const res = await postJson(`${sim.url}/v1/chat/completions`, { model, messages: [] });
    assert.equal(res.status, 401);
    assert.equal(field(res.json, 'error', 'type'), 'invalid_request_error');
  });

  it('404 model_not_found for an unknown model', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }] }),
      (error) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
    );
  });

  it('400 naming the field for invalid bodies', async () => {
    await assert.rejects(
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 3 }),
      (error) =>
        error instanceof OpenAI.BadRequestError &&
        error.param === 'temperature' &&
        error.code === 'decimal_above_max_value',
    );
    const unknown = await postJson(
      `${sim.url}/v1/chat/completions`,
      { model, messages: [{ role: 'user', content: 'x' }], x_custom: 1 },
      { authorization: 'Bearer sk-test-1' },
    );
    assert.equal(unknown.status, 400);
    assert.equal(field(unknown.json, 'error', 'message'), 'Unrecognized request argument supplied: x_custom');
    const missing = await postJson(
      `${sim.url}/v1/chat/completions`,
      { model },
      { authorization: 'Bearer sk-test-1' },
    );
    assert.deepEqual(field(missing.json, 'error'), {
      message: "Missing required parameter: 'messages'.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'missing_required_parameter',
    });
  });

  it('404 Invalid URL for unknown routes', async () => {
    const res = await postJson(`${sim.url}/v1/nope`, {}, { authorization: 'Bearer sk-test-1' });
    assert.equal(res.status, 404);
    assert.equal(field(res.json, 'error', 'message'), 'Invalid URL (POST /v1/nope)');
  });
});

describe('openai sim: embeddings and models', () => {
  it('the SDK default (base64 on the wire) and float give identical numbers', async () => {
    sim.clearRequests();
    const viaBase64 = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    assert.equal(field(sim.requests().at(-1)?.body, 'encoding_format'), 'base64');
    const viaFloat = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    });
    assert.equal(viaFloat.data.length, 2);
    assert.equal(viaFloat.data[0]!.embedding.length, 8);
    assert.deepEqual(
      viaBase64.data.map((d) => d.embedding),
      viaFloat.data.map((d) => d.embedding),
    );
    assert.notDeepEqual(viaFloat.data[0]!.embedding, viaFloat.data[1]!.embedding);
    assert.deepEqual(viaFloat.usage, { prompt_tokens: 2, total_tokens: 2 });
  });

  it('sends base64 strings on the wire and honours dimensions', async () => {
    const res = await postJson(
      `${sim.url}/v1/embeddings`,
      { model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'base64', dimensions: 4 },
      { authorization: 'Bearer sk-test-1' },
    );
    const encoded = field(res.json, 'data', 0, 'embedding');
    assert.equal(typeof encoded, 'string');
    assert.equal(Buffer.from(String(encoded), 'base64').length, 4 * 4);
  });

  it('lists and retrieves models', async () => {
    const models = await collect(client.models.list());
    assert.deepEqual(
      models.map((m) => m.id),
      ['gpt-4o-mini', 'text-embedding-3-small'],
    );
    assert.equal(models[0]!.object, 'model');
    assert.equal((await client.models.retrieve('gpt-4o-mini')).id, 'gpt-4o-mini');
    await assert.rejects(client.models.retrieve('nope'), OpenAI.NotFoundError);
  });
});

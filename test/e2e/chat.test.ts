import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { resetSims, type Stack, startStack } from './stack.ts';

let stack: Stack;
let client: OpenAI;
before(async () => {
  stack = await startStack();
  client = stack.client();
});
after(() => stack.close());
beforeEach(() => resetSims(stack.sims));

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city'],
    },
  },
};
const timeTool = {
  type: 'function' as const,
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
};

/** The body the simulated Azure deployment received last. */
function lastAzureBody(): Record<string, unknown> {
  const requests = stack.sims.azure.requests().filter((r) => r.path.endsWith('/chat/completions'));
  const last = requests.at(-1);
  assert.ok(last, 'Azure received no chat request');
  return last.body as Record<string, unknown>;
}

describe('chat completions through the official openai SDK', () => {
  test('non-streaming text comes from Azure first, with the contract headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hello gateway' }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'gpt-5');
    assert.equal(
      data.choices[0]?.message.content,
      'Hello from simulated Azure OpenAI (gpt-5-prod). You said: hello gateway',
    );
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.ok(
      data.usage && data.usage.total_tokens === data.usage.prompt_tokens + data.usage.completion_tokens,
    );
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    assert.equal(response.headers.get('x-switchyard-provider'), 'azure-eastus');
    assert.equal(response.headers.get('x-switchyard-deployment'), 'gpt-5-prod');
    assert.equal(response.headers.get('x-switchyard-attempts'), '1');
    const request = stack.sims.azure.requests().at(-1);
    assert.equal(request?.path, '/openai/deployments/gpt-5-prod/chat/completions');
    assert.equal(request?.query['api-version'], '2024-10-21');
    assert.equal(request?.headers['api-key'], '[redacted]');
  });

  test('streaming text arrives as OpenAI chunks, with usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-5',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream please' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Hello from simulated Azure OpenAI (gpt-5-prod). You said: stream please');
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id across the stream');
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.deepEqual(
      finish.map((c) => c.choices[0]?.finish_reason),
      ['stop'],
    );
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.ok(last?.usage && last.usage.completion_tokens > 0);
    // The gateway always asks the cloud for usage (accounting needs it), whatever the client asked.
    assert.deepEqual(lastAzureBody().stream_options, { include_usage: true });
  });

  test('streaming without include_usage sends no usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-5',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
  });

  test('tools: a required tool call, non-streaming', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      tools: [weatherTool],
      tool_choice: 'required',
      messages: [{ role: 'user', content: 'weather in Oslo?' }],
    });
    const choice = data.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    assert.equal(choice?.message.content, null);
    const call = choice?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'sample', days: 1 });
    assert.match(call.id, /^call_/);
  });

  test('parallel tool calls with streamed arguments, reassembled by the SDK helper', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-5',
      tools: [weatherTool, timeTool],
      tool_choice: 'required',
      parallel_tool_calls: true,
      messages: [{ role: 'user', content: 'weather and time' }],
    });
    let deltas = 0;
    stream.on('chunk', (chunk) => {
      if (chunk.choices[0]?.delta.tool_calls) deltas++;
    });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    assert.deepEqual(
      calls.map((c) => (c.type === 'function' ? [c.function.name, JSON.parse(c.function.arguments)] : [])),
      [
        ['get_weather', { city: 'sample', days: 1 }],
        ['get_time', { zone: 'sample' }],
      ],
    );
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    assert.ok(deltas > 2, `arguments should arrive in several deltas, got ${deltas}`);
    assert.equal(lastAzureBody().parallel_tool_calls, true);
  });

  test('tool_choice naming a function and parallel_tool_calls false reach the cloud', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      tools: [weatherTool, timeTool],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      parallel_tool_calls: false,
      messages: [{ role: 'user', content: 'time?' }],
    });
    const calls = data.choices[0]?.message.tool_calls ?? [];
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.type === 'function' && calls[0].function.name, 'get_time');
    assert.deepEqual(lastAzureBody().tool_choice, { type: 'function', function: { name: 'get_time' } });
  });

  test('tool results go back with their ids', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
            {
              id: 'call_b',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Bergen"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_b', content: 'rain' },
      ],
    });
    assert.equal(data.choices[0]?.message.content, 'Tool results: call_a=sunny; call_b=rain');
    const messages = lastAzureBody().messages as Record<string, unknown>[];
    assert.equal(messages[1]?.content, null);
    assert.deepEqual(messages[3], { role: 'tool', tool_call_id: 'call_b', content: 'rain' });
  });

  test('response_format json_schema and json_object', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, score: { type: 'number' } },
      required: ['answer'],
    };
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } },
      messages: [{ role: 'user', content: 'judge' }],
    });
    assert.deepEqual(JSON.parse(data.choices[0]?.message.content ?? ''), { answer: 'sample', score: 1 });
    assert.deepEqual(lastAzureBody().response_format, {
      type: 'json_schema',
      json_schema: { name: 'verdict', schema, strict: true },
    });
    const obj = await client.chat.completions.create({
      model: 'gpt-5',
      response_format: { type: 'json_object' },
      messages: [{ role: 'user', content: 'json please' }],
    });
    assert.equal(typeof JSON.parse(obj.choices[0]?.message.content ?? '').reply, 'string');
  });

  test('image parts reach the cloud', async () => {
    const png =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image_url', image_url: { url: png, detail: 'low' } },
          ],
        },
      ],
    });
    assert.match(data.choices[0]?.message.content ?? '', /Saw 1 image\(s\)\./);
    const messages = lastAzureBody().messages as { content: unknown }[];
    assert.deepEqual(messages[0]?.content, [
      { type: 'text', text: 'what is this' },
      { type: 'image_url', image_url: { url: png, detail: 'low' } },
    ]);
  });

  test('stop, seed, max_tokens, max_completion_tokens, temperature, top_p, user and system/developer messages', async () => {
    const stopped = await client.chat.completions.create({
      model: 'gpt-5',
      stop: ['You said'],
      seed: 7,
      temperature: 0.2,
      top_p: 0.9,
      user: 'u-1',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'developer', content: 'really brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    assert.equal(stopped.choices[0]?.message.content, 'Hello from simulated Azure OpenAI (gpt-5-prod). ');
    assert.equal(stopped.choices[0]?.finish_reason, 'stop');
    const body = lastAzureBody();
    assert.deepEqual(
      [body.stop, body.seed, body.temperature, body.top_p, body.user],
      [['You said'], 7, 0.2, 0.9, 'u-1'],
    );
    assert.deepEqual(
      (body.messages as { role: string }[]).map((m) => m.role),
      ['system', 'developer', 'user'],
    );
    const short = await client.chat.completions.create({
      model: 'gpt-5',
      max_tokens: 3,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(short.choices[0]?.finish_reason, 'length');
    assert.equal(short.usage?.completion_tokens, 3);
    assert.equal(lastAzureBody().max_tokens, 3);
    const shortNew = await client.chat.completions.create({
      model: 'gpt-5',
      max_completion_tokens: 2,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(shortNew.choices[0]?.finish_reason, 'length');
    assert.equal(lastAzureBody().max_completion_tokens, 2);
  });

  test('a streamed answer cut by max_tokens finishes with length', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-5',
      stream: true,
      max_tokens: 2,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const reasons = [];
    for await (const chunk of stream)
      if (chunk.choices[0]?.finish_reason) reasons.push(chunk.choices[0].finish_reason);
    assert.deepEqual(reasons, ['length']);
  });

  test('Azure through the v1 path with an Entra ID token', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-5-v1', messages: [{ role: 'user', content: 'entra' }] })
      .withResponse();
    assert.match(data.choices[0]?.message.content ?? '', /You said: entra$/);
    assert.equal(response.headers.get('x-switchyard-provider'), 'azure-entra');
    const requests = stack.sims.azure.requests();
    const token = requests.find((r) => r.path === '/tenant-1/oauth2/v2.0/token');
    assert.ok(token, 'the gateway fetched a token');
    const chat = requests.at(-1);
    assert.equal(chat?.path, '/openai/v1/chat/completions');
    assert.equal(chat?.headers.authorization, 'Bearer [redacted]');
    assert.equal((chat?.body as { model?: string } | undefined)?.model, 'gpt-5-prod');
    // The token is cached: a second request fetches none.
    stack.sims.azure.clearRequests();
    await client.chat.completions.create({
      model: 'gpt-5-v1',
      messages: [{ role: 'user', content: 'again' }],
    });
    assert.equal(stack.sims.azure.requests().filter((r) => r.path.includes('oauth2')).length, 0);
  });

  test('an OpenAI-compatible server (vLLM) serves through the same path, with max_tokens', async () => {
    const data = await client.chat.completions.create({
      model: 'llama',
      max_completion_tokens: 4,
      messages: [{ role: 'user', content: 'hello llama' }],
    });
    assert.equal(data.choices[0]?.finish_reason, 'length');
    const body = stack.sims.vllm.requests().at(-1)?.body as Record<string, unknown>;
    assert.equal(body.max_tokens, 4, 'self-hosted servers get max_tokens, which all of them read');
    assert.equal(body.max_completion_tokens, undefined);
    const stream = await client.chat.completions.create({
      model: 'llama',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Hello from simulated vLLM (llama-3.1-8b). You said: hi');
  });

  test('n > 1 is forwarded to OpenAI-protocol clouds and every choice comes back', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-5',
      n: 2,
      messages: [{ role: 'user', content: 'two' }],
    });
    assert.deepEqual(
      data.choices.map((c) => c.index),
      [0, 1],
    );
    const stream = await client.chat.completions.create({
      model: 'gpt-5',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'two' }],
    });
    const texts = ['', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    assert.equal(texts[0], texts[1]);
    assert.match(texts[0] ?? '', /You said: two$/);
  });

  test('request ids are unique', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { response } = await client.chat.completions
        .create({ model: 'gpt-5', messages: [{ role: 'user', content: 'x' }] })
        .withResponse();
      ids.add(response.headers.get('x-request-id') ?? '');
    }
    assert.equal(ids.size, 5);
  });
});

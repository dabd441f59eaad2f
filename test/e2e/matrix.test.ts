import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import type { CloudUnderTest, StartedCloud } from './clouds/types.ts';

/**
 * The capability matrix: the same scenarios, through the gateway, with the official openai SDK, for
 * every cloud in test/e2e/clouds/. A cloud is done when its row is green.
 */
const folder = join(import.meta.dirname, 'clouds');
const clouds: CloudUnderTest[] = [];
for (const file of readdirSync(folder)
  .filter((f) => f.endsWith('.cloud.ts'))
  .sort()) {
  const module = (await import(pathToFileURL(join(folder, file)).href)) as { default: CloudUnderTest };
  clouds.push(module.default);
}

const KEY = 'sk-matrix-test-0001';
const started = new Map<string, StartedCloud>();
let gateway: RunningGateway;
let client: OpenAI;
/** Serves the test image over http, for clouds that get URLs fetched by the gateway. */
let imageServer: Server;
let imageUrl: string;

before(async () => {
  imageServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from(PNG.split(',')[1] ?? '', 'base64'));
  });
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
  imageUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}/cat.png`;
  for (const cloud of clouds) started.set(cloud.name, await cloud.start());
  const providers = clouds.map((c) => started.get(c.name)?.providerYaml).join('\n');
  const models = clouds
    .flatMap((c) => [
      `  - { name: m-${c.name}, deployments: [{ provider: p-${c.name}, model: "${c.chatModel}" }] }`,
      ...(c.embeddingsModel
        ? [
            `  - { name: e-${c.name}, deployments: [{ provider: p-${c.name}, model: "${c.embeddingsModel}" }] }`,
          ]
        : []),
    ])
    .join('\n');
  const yaml = `
server: { imageFetch: { allowPrivateNetworks: true, allowedPorts: [${new URL(imageUrl).port}] } }
routing:
  timeouts: { connectMs: 2000, firstByteMs: 15000, idleMs: 15000, totalMs: 30000 }
  # Every 429 goes back to the client, so each cloud's throttle is seen as the client sees it.
  retry: { maxThrottleWaitMs: 0 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
${providers}
models:
${models}
keys:
  - { name: matrix, key: ${KEY} }
`;
  gateway = await startGateway(parseConfigText(yaml, '/tmp/matrix.yaml', {}), { port: 0, host: '127.0.0.1' });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await gateway?.shutdown(0);
  imageServer.closeAllConnections();
  await new Promise((resolve) => imageServer.close(resolve));
  for (const s of started.values()) await s.close();
});

const weather = {
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
const time = {
  type: 'function' as const,
  function: {
    name: 'get_time',
    description: 'Time in a zone',
    parameters: { type: 'object', properties: { zone: { type: 'string' } } },
  },
};
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

async function failure(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  return assert.fail('expected the call to fail');
}

for (const cloud of clouds) {
  const model = `m-${cloud.name}`;
  describe(`matrix: ${cloud.name}`, () => {
    beforeEach(() => {
      const s = started.get(cloud.name);
      s?.sim.clearFaults();
    });

    test('text, usage and finish stop', async () => {
      const { data, response } = await client.chat.completions
        .create({
          model,
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'hello matrix' },
          ],
        })
        .withResponse();
      assert.match(data.choices[0]?.message.content ?? '', /^Hello from simulated .+You said: hello matrix$/);
      assert.equal(data.choices[0]?.finish_reason, 'stop');
      const usage = data.usage;
      assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
      assert.equal(response.headers.get('x-switchyard-provider'), `p-${cloud.name}`);
    });

    test('streamed text equals the non-streamed text, with usage when asked', async () => {
      const messages = [{ role: 'user' as const, content: 'stream [sim:words=12]' }];
      const whole = await client.chat.completions.create({ model, messages });
      const stream = await client.chat.completions.create({
        model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      const reasons: string[] = [];
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.choices[0]?.finish_reason) reasons.push(chunk.choices[0].finish_reason);
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, whole.choices[0]?.message.content);
      assert.deepEqual(reasons, ['stop']);
      assert.equal(usage?.completion_tokens, 12);
    });

    test('a required tool call, non-streamed', async () => {
      const data = await client.chat.completions.create({
        model,
        tools: [weather],
        tool_choice: 'required',
        messages: [{ role: 'user', content: 'weather in Oslo?' }],
      });
      const call = data.choices[0]?.message.tool_calls?.[0];
      assert.equal(data.choices[0]?.finish_reason, 'tool_calls');
      assert.ok(call?.type === 'function' && call.id.length > 0);
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'sample', days: 1 });
    });

    test('a named tool call with streamed arguments', async () => {
      const stream = client.chat.completions.stream({
        model,
        tools: [weather, time],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        messages: [{ role: 'user', content: 'weather?' }],
      });
      const final = await stream.finalChatCompletion();
      const calls = final.choices[0]?.message.tool_calls ?? [];
      assert.equal(calls.length, 1);
      assert.ok(calls[0]?.type === 'function');
      assert.equal(calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'sample', days: 1 });
      assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    });

    test('parallel tool calls', async () => {
      const data = await client.chat.completions.create({
        model,
        tools: [weather, time],
        tool_choice: 'required',
        messages: [{ role: 'user', content: 'weather and time' }],
      });
      const names = (data.choices[0]?.message.tool_calls ?? []).map((c) =>
        c.type === 'function' ? c.function.name : '',
      );
      assert.deepEqual(names, ['get_weather', 'get_time']);
      assert.equal(
        new Set((data.choices[0]?.message.tool_calls ?? []).map((c) => c.id)).size,
        2,
        'distinct ids',
      );
    });

    test('tool results go back to the cloud', async () => {
      const data = await client.chat.completions.create({
        model,
        tools: [weather],
        messages: [
          { role: 'user', content: 'weather in Oslo and Bergen?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_oslo',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
              },
              {
                id: 'call_bergen',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Bergen"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_oslo', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_bergen', content: 'rain' },
        ],
      });
      const text = data.choices[0]?.message.content ?? '';
      assert.match(text, /sunny/);
      assert.match(text, /rain/);
      if (cloud.echoesToolIds) assert.match(text, /call_oslo=sunny/);
    });

    test('an image part reaches the cloud', async () => {
      const data = await client.chat.completions.create({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this' },
              { type: 'image_url', image_url: { url: PNG } },
            ],
          },
        ],
      });
      assert.match(data.choices[0]?.message.content ?? '', /Saw 1 image\(s\)\./);
    });

    test('an http(s) image URL reaches the cloud (fetched by the gateway where the cloud needs bytes)', async () => {
      const data = await client.chat.completions.create({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'and this' },
              { type: 'image_url', image_url: { url: imageUrl } },
            ],
          },
        ],
      });
      assert.match(data.choices[0]?.message.content ?? '', /Saw 1 image\(s\)\./);
    });

    test('max_tokens → finish length with exactly that many completion tokens', async () => {
      const data = await client.chat.completions.create({
        model,
        max_tokens: 3,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(data.choices[0]?.finish_reason, 'length');
      assert.equal(data.usage?.completion_tokens, 3);
    });

    test('stop sequences cut the answer', async () => {
      const data = await client.chat.completions.create({
        model,
        stop: ['You said'],
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.ok(!(data.choices[0]?.message.content ?? '').includes('You said'));
      assert.equal(data.choices[0]?.finish_reason, 'stop');
    });

    test('content filter', async () => {
      const call = client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'x [sim:finish=content_filter]' }],
      });
      if (cloud.contentFilter === 'error_400') {
        const err = await failure(call);
        assert.equal(err.status, 400);
      } else {
        const data = await call;
        assert.equal(data.choices[0]?.finish_reason, 'content_filter');
      }
    });

    test('response_format json_schema gives parseable JSON', async () => {
      const schema = {
        type: 'object',
        properties: { answer: { type: 'string' }, score: { type: 'number' } },
        required: ['answer', 'score'],
      };
      const data = await client.chat.completions.create({
        model,
        response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema } },
        messages: [{ role: 'user', content: 'judge' }],
      });
      assert.deepEqual(JSON.parse(data.choices[0]?.message.content ?? 'null'), {
        answer: 'sample',
        score: 1,
      });
      assert.equal(data.choices[0]?.finish_reason, 'stop');
    });

    test('a throttled cloud reaches the client as 429 with retry-after', async () => {
      started.get(cloud.name)?.sim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 1000 }]);
      const err = await failure(
        client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.equal(err.status, 429);
      assert.equal(err.headers?.get('retry-after'), '1');
      // The deployment now sits out its retry-after; let it pass before the next scenario.
      await new Promise((r) => setTimeout(r, 1100));
    });

    test('a server error reaches the client as 502 naming the attempt', async () => {
      started.get(cloud.name)?.sim.addFaults([{ kind: 'status', status: 500 }]);
      const err = await failure(
        client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.equal(err.status, 502);
      assert.match(err.message, new RegExp(`p-${cloud.name}/`));
    });

    test('a stream cut after it started ends with an error event', async () => {
      // After the first output on every cloud (Anthropic's opens with message_start, ping and a block start).
      started.get(cloud.name)?.sim.addFaults([{ kind: 'cut', afterChunks: 5 }]);
      const stream = await client.chat.completions.create({
        model,
        stream: true,
        messages: [{ role: 'user', content: '[sim:words=40]' }],
      });
      await assert.rejects(async () => {
        for await (const _ of stream) {
          // drain
        }
      }, OpenAI.APIError);
    });

    test(`n=2 ${cloud.supportsN ? 'gives two choices' : 'is refused naming n'}`, async () => {
      const call = client.chat.completions.create({
        model,
        n: 2,
        messages: [{ role: 'user', content: 'two' }],
      });
      if (cloud.supportsN) {
        assert.equal((await call).choices.length, 2);
      } else {
        const err = await failure(call);
        assert.equal(err.status, 400);
        assert.equal(err.param, 'n');
      }
    });

    if (cloud.embeddingsModel) {
      test('embeddings, base64 (SDK default) and float agree', async () => {
        const b64 = await client.embeddings.create({ model: `e-${cloud.name}`, input: ['alpha', 'beta'] });
        const float = await client.embeddings.create({
          model: `e-${cloud.name}`,
          input: ['alpha', 'beta'],
          encoding_format: 'float',
        });
        assert.equal(b64.data.length, 2);
        assert.ok((b64.data[0]?.embedding.length ?? 0) > 0);
        assert.deepEqual(
          b64.data.map((d) => d.embedding),
          float.data.map((d) => d.embedding),
        );
      });
    }
  });
}

/**
 * Bedrock-specific behaviour through the whole gateway with the official openai SDK, beyond the
 * shared capability matrix: the emulations (JSON tool streamed, tool_choice none over a tool
 * history, parallel_tool_calls false), the 400s for what Bedrock cannot honour, batched embeddings,
 * and exception frames in the middle of a stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';

const KEY = 'sk-bedrock-gateway-test';
const aws = { accessKeyId: 'AKIDGATEWAYTEST', secretAccessKey: 'gateway-test-secret' };
let sim: SimCloud;
let gateway: RunningGateway;
let client: OpenAI;

before(async () => {
  sim = await startSimCloud({ kind: 'bedrock', region: 'eu-west-1', aws });
  const yaml = `
routing:
  timeouts: { connectMs: 2000, firstByteMs: 15000, idleMs: 15000, totalMs: 30000 }
  retry: { maxAttempts: 1 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: bedrock-eu, type: bedrock, region: eu-west-1, endpoint: "${sim.url}", accessKeyId: ${aws.accessKeyId}, secretAccessKey: ${aws.secretAccessKey} }
models:
  - { name: claude, deployments: [{ provider: bedrock-eu, model: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" }] }
  - { name: titan, deployments: [{ provider: bedrock-eu, model: "amazon.titan-embed-text-v2:0" }] }
  - { name: cohere, deployments: [{ provider: bedrock-eu, model: "cohere.embed-multilingual-v3" }] }
keys:
  - { name: test, key: ${KEY} }
`;
  gateway = await startGateway(parseConfigText(yaml, '/tmp/bedrock-gateway.yaml', {}), {
    port: 0,
    host: '127.0.0.1',
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await gateway?.shutdown(0);
  await sim?.close();
});

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const time = { type: 'function' as const, function: { name: 'get_time' } };

async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  return assert.fail('expected an API error');
}

describe('bedrock through the gateway', () => {
  it('streams a json_schema answer as text deltas with finish stop', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'v',
          schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        },
      },
      messages: [{ role: 'user', content: 'judge' }],
    });
    let text = '';
    const reasons: string[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(chunk.choices[0]?.delta.tool_calls, undefined);
      if (chunk.choices[0]?.finish_reason) reasons.push(chunk.choices[0].finish_reason);
    }
    assert.deepEqual(JSON.parse(text), { ok: true });
    assert.deepEqual(reasons, ['stop']);
  });

  it('tool_choice none over a tool history: the history goes as text, the model calls nothing', async () => {
    sim.clearRequests();
    const data = await client.chat.completions.create({
      model: 'claude',
      tools: [weather],
      tool_choice: 'none',
      messages: [
        { role: 'user', content: 'weather in Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.match(data.choices[0]?.message.content ?? '', /\[tool result call_1: sunny\]/);
    const sent = sim.requests().at(-1)?.body as Record<string, unknown>;
    assert.equal(sent.toolConfig, undefined);
  });

  it('parallel_tool_calls: false returns only the first call', async () => {
    const data = await client.chat.completions.create({
      model: 'claude',
      tools: [weather, time],
      tool_choice: 'required',
      parallel_tool_calls: false,
      messages: [{ role: 'user', content: 'both' }],
    });
    const calls = data.choices[0]?.message.tool_calls ?? [];
    assert.equal(calls.length, 1);
    assert.match(calls[0]?.id ?? '', /^tooluse_/);
  });

  it('temperature above 1 is a 400 naming temperature and Bedrock; nothing is sent upstream', async () => {
    sim.clearRequests();
    const err = await apiError(
      client.chat.completions.create({
        model: 'claude',
        temperature: 1.5,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.param, 'temperature');
    assert.match(err.message, /not supported by AWS Bedrock/);
    assert.equal(sim.requests().length, 0);
  });

  it('a Bedrock ValidationException reaches the client as a 400 with its message', async () => {
    sim.addFaults([
      { kind: 'status', status: 400, message: 'The model returned the following errors: input too long' },
    ]);
    const err = await apiError(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.message, '400 The model returned the following errors: input too long');
    assert.equal(err.code, 'ValidationException');
  });

  it('Titan embeds several inputs with one InvokeModel call each; Cohere in one call', async () => {
    sim.clearRequests();
    const titan = await client.embeddings.create({ model: 'titan', input: ['alpha', 'beta', 'gamma'] });
    assert.equal(titan.data.length, 3);
    assert.equal(titan.data[2]?.index, 2);
    assert.equal(titan.usage.prompt_tokens, 3);
    assert.equal(sim.requests().length, 3);
    const one = await client.embeddings.create({ model: 'titan', input: 'gamma', encoding_format: 'float' });
    assert.deepEqual(one.data[0]?.embedding, titan.data[2]?.embedding, 'order kept across calls');
    sim.clearRequests();
    const cohere = await client.embeddings.create({ model: 'cohere', input: ['alpha', 'beta', 'gamma'] });
    assert.equal(cohere.data.length, 3);
    assert.equal(sim.requests().length, 1);
  });
});

/**
 * The `delay`, `stream_error` and `redirect` faults, observed the way clients see them: through the
 * official SDKs (openai, @anthropic-ai/sdk, @aws-sdk/client-bedrock-runtime, @google/genai) where
 * they show the cloud's in-band error, over plain HTTP where the wire matters, and through the
 * gateway's own decoders and classifiers (a Bedrock exception right after messageStart reaches no
 * client; a redirect's Location query never reaches a message).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  BedrockRuntimeClient,
  ConverseStreamCommand,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OpenAI, { AzureOpenAI } from 'openai';
import type { ChatRequest } from '../../src/core/chat.ts';
import { createConverseStreamDecoder } from '../../src/providers/bedrock/decode-stream.ts';
import { classifyGoogleError } from '../../src/providers/google/errors.ts';
import { UpstreamError } from '../../src/providers/types.ts';
import { startSimCloud } from '../../src/sim/index.ts';
import { field, postJson, sseData, useSim } from './helpers.ts';

const openaiSim = await useSim({ kind: 'openai', apiKeys: ['sk-n'], models: ['m-a'] });
const openai = new OpenAI({ apiKey: 'sk-n', baseURL: `${openaiSim.url}/v1`, maxRetries: 0 });
const words = (n: number) => [{ role: 'user' as const, content: `[sim:words=${n}]` }];

/** Collects a stream's items until it throws; gives both. */
async function drain<T>(stream: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

describe('delay', () => {
  it('answers normally, after the delay; a client whose timeout is shorter gives up first', async () => {
    openaiSim.addFaults([{ kind: 'delay', ms: 2000 }]);
    await assert.rejects(
      openai.withOptions({ timeout: 100 }).chat.completions.create({ model: 'm-a', messages: words(3) }),
      (e) => e instanceof OpenAI.APIConnectionTimeoutError,
    );
    openaiSim.clearFaults();
    openaiSim.addFaults([{ kind: 'delay', ms: 300 }]);
    const started = performance.now();
    const answer = await openai.chat.completions.create({ model: 'm-a', messages: words(3) });
    assert.ok(performance.now() - started >= 250, 'no answer before the delay');
    assert.equal(answer.choices[0]?.message.content, 'word1 word2 word3');
  });

  it('a stream shows its headers and first event only after the delay', async () => {
    openaiSim.addFaults([{ kind: 'delay', ms: 300 }]);
    const started = performance.now();
    const res = await fetch(`${openaiSim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-n', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-a', messages: words(2), stream: true }),
    });
    assert.ok(performance.now() - started >= 250, 'headers wait for the delay');
    assert.equal(res.status, 200);
    assert.equal(sseData(await res.text()).at(-1), '[DONE]');
  });

  it('closing the sim ends a delayed request at once', async () => {
    const own = await startSimCloud({ kind: 'openai' });
    own.addFaults([{ kind: 'delay', ms: 600_000 }]);
    const pending = fetch(`${own.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: words(1) }),
    });
    // Let the request reach the sim and start waiting.
    while (own.requests().length === 0) await new Promise((r) => setTimeout(r, 5));
    await own.close();
    await assert.rejects(pending);
  });
});

describe('stream_error: the cloud’s own in-band error after N events', () => {
  it('OpenAI: data: {"error": ...} after 2 chunks; openai-node raises an APIError after yielding them', async () => {
    openaiSim.addFaults([{ kind: 'stream_error', afterChunks: 2 }]);
    const stream = await openai.chat.completions.create({ model: 'm-a', messages: words(5), stream: true });
    const { items, error } = await drain(stream);
    assert.equal(items.length, 2);
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.match(error.message, /overloaded/);
  });

  it('OpenAI wire: no [DONE] after the error, then the connection ends; status picks the error', async () => {
    openaiSim.addFaults([{ kind: 'stream_error', afterChunks: 1, status: 429 }]);
    const res = await postJson(
      `${openaiSim.url}/v1/chat/completions`,
      { model: 'm-a', messages: words(5), stream: true },
      { authorization: 'Bearer sk-n' },
    );
    assert.equal(res.status, 200);
    const data = sseData(res.text);
    assert.equal(data.length, 2);
    assert.equal(field(JSON.parse(data[1]!), 'error', 'code'), 'rate_limit_exceeded');
  });

  it('a request that does not stream gets the error it stands for as an HTTP answer', async () => {
    openaiSim.addFaults([{ kind: 'stream_error', afterChunks: 0 }]);
    await assert.rejects(
      openai.chat.completions.create({ model: 'm-a', messages: words(2) }),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 503,
    );
  });

  it('a stream shorter than afterChunks still ends with the error, in place of [DONE]', async () => {
    openaiSim.addFaults([{ kind: 'stream_error', afterChunks: 100 }]);
    const res = await postJson(
      `${openaiSim.url}/v1/chat/completions`,
      { model: 'm-a', messages: words(1), stream: true },
      { authorization: 'Bearer sk-n' },
    );
    const data = sseData(res.text);
    assert.notEqual(data.at(-1), '[DONE]');
    assert.equal(field(JSON.parse(data.at(-1)!), 'error', 'code'), 'server_is_overloaded');
  });

  it('Azure: afterChunks 0 is an error before even the prompt-filter chunk', async () => {
    const azureSim = await useSim({ kind: 'azure-openai', apiKeys: ['az'], models: ['dep'] });
    const azure = new AzureOpenAI({
      apiKey: 'az',
      endpoint: azureSim.url,
      apiVersion: '2024-10-21',
      deployment: 'dep',
      maxRetries: 0,
    });
    azureSim.addFaults([{ kind: 'stream_error', afterChunks: 0, status: 500 }]);
    const stream = await azure.chat.completions.create({ model: 'dep', messages: words(3), stream: true });
    const { items, error } = await drain(stream);
    assert.equal(items.length, 0);
    assert.ok(error instanceof OpenAI.APIError);
  });

  it('vLLM-like: its own envelope with an integer code', async () => {
    const vllm = await useSim({ kind: 'openai-compatible', models: ['llama'] });
    vllm.addFaults([{ kind: 'stream_error', afterChunks: 1 }]);
    const res = await postJson(`${vllm.url}/v1/chat/completions`, {
      model: 'llama',
      messages: words(3),
      stream: true,
    });
    const data = sseData(res.text);
    assert.equal(data.length, 2);
    assert.deepEqual(field(JSON.parse(data[1]!), 'error', 'code'), 503);
  });

  it('Anthropic: event: error overloaded_error after message_start (afterChunks 0)', async () => {
    const sim = await useSim({ kind: 'anthropic', apiKeys: ['ak'] });
    const client = new Anthropic({ apiKey: 'ak', baseURL: sim.url, maxRetries: 0 });
    sim.addFaults([{ kind: 'stream_error', afterChunks: 0 }]);
    const stream = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: '[sim:words=4]' }],
    });
    const { items, error } = await drain(stream);
    assert.deepEqual(
      items.map((e) => e.type),
      ['message_start'],
    );
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.type, 'overloaded_error');
  });

  it('Bedrock: the AWS SDK sees serviceUnavailableException right after messageStart (afterChunks 0)', async () => {
    const sim = await useSim({ kind: 'bedrock', apiKeys: ['bk'] });
    const client = new BedrockRuntimeClient({
      endpoint: sim.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });
    sim.addFaults([
      { kind: 'stream_error', afterChunks: 0 },
      { kind: 'stream_error', afterChunks: 2, status: 429 },
    ]);
    const converse = () =>
      client.send(
        new ConverseStreamCommand({
          modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
          messages: [{ role: 'user', content: [{ text: '[sim:words=5]' }] }],
        }),
      );
    const first = await drain<ConverseStreamOutput>((await converse()).stream!);
    assert.deepEqual(
      first.items.map((e) => Object.keys(e)[0]),
      ['messageStart'],
    );
    assert.equal((first.error as Error).name, 'ServiceUnavailableException');
    const second = await drain<ConverseStreamOutput>((await converse()).stream!);
    assert.equal(second.items.length, 3);
    assert.equal((second.error as Error).name, 'ThrottlingException');
  });

  it('Bedrock through the gateway’s decoder: no event reaches a client, only a retryable overload', async () => {
    const sim = await useSim({ kind: 'bedrock', apiKeys: ['bk'] });
    sim.addFaults([{ kind: 'stream_error', afterChunks: 0 }]);
    const res = await fetch(`${sim.url}/model/m/converse-stream`, {
      method: 'POST',
      headers: { authorization: 'Bearer bk', 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }),
    });
    assert.equal(res.status, 200);
    const request: ChatRequest = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      stream: true,
      includeUsage: false,
      tools: [],
      stop: [],
      openai: { passthrough: {} },
    };
    const decoder = createConverseStreamDecoder(request);
    const events = [];
    let failure: UpstreamError | undefined;
    try {
      events.push(...decoder.push(new Uint8Array(await res.arrayBuffer())));
      events.push(...decoder.end());
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      failure = err;
    }
    assert.deepEqual(events, []);
    assert.equal(failure?.failure.kind, 'overloaded');
    assert.equal(failure?.failure.retryable, true);
  });

  it('Gemini: the error object Google sends mid-stream; @google/genai throws after the chunks before it', async () => {
    const sim = await useSim({ kind: 'gemini', apiKeys: ['gk'] });
    const genai = new GoogleGenAI({ apiKey: 'gk', httpOptions: { baseUrl: sim.url } });
    sim.addFaults([{ kind: 'stream_error', afterChunks: 2 }]);
    const stream = await genai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: '[sim:words=6]',
    });
    const { items, error } = await drain(stream);
    assert.equal(items.length, 2);
    assert.ok(error instanceof Error);
    assert.match(error.message, /overloaded|UNAVAILABLE|503/);
  });

  it('Gemini wire: data: {"error": {code, message, status}} and, without alt=sse, the last array element', async () => {
    const sim = await useSim({ kind: 'gemini' });
    const url = `${sim.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent`;
    const body = { contents: [{ role: 'user', parts: [{ text: '[sim:words=4]' }] }] };
    sim.addFaults([{ kind: 'stream_error', afterChunks: 1, times: 2 }]);
    const sse = await postJson(`${url}?alt=sse`, body, { 'x-goog-api-key': 'k' });
    const data = sseData(sse.text).map((d) => JSON.parse(d));
    assert.equal(data.length, 2);
    assert.deepEqual(data[1], {
      error: {
        code: 503,
        message: 'The model is overloaded. Please try again later.',
        status: 'UNAVAILABLE',
      },
    });
    const array = await postJson(url, body, { 'x-goog-api-key': 'k' });
    assert.ok(Array.isArray(array.json));
    assert.equal(array.json.length, 2);
    assert.equal(field(array.json, 1, 'error', 'status'), 'UNAVAILABLE');
  });
});

describe('redirect', () => {
  it('answers the status with a Location: by default the same URL over https, query included', async () => {
    openaiSim.addFaults([{ kind: 'redirect', status: 301 }]);
    const res = await fetch(`${openaiSim.url}/v1/chat/completions?trace=1`, {
      method: 'POST',
      redirect: 'manual',
      headers: { authorization: 'Bearer sk-n', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-a', messages: words(1) }),
    });
    assert.equal(res.status, 301);
    assert.equal(
      res.headers.get('location'),
      `https://127.0.0.1:${openaiSim.port}/v1/chat/completions?trace=1`,
    );
    await res.text();
  });

  it('a given location, on any cloud; the gateway classifies it without the key in the query', async () => {
    const sim = await useSim({ kind: 'gemini', apiKeys: ['AIzaSECRETKEY'] });
    sim.addFaults([{ kind: 'redirect', status: 308 }]);
    const url = `${sim.url}/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaSECRETKEY`;
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    assert.equal(res.status, 308);
    const location = res.headers.get('location') ?? '';
    assert.match(location, /key=AIzaSECRETKEY/);
    const failure = classifyGoogleError(res.status, { location }, await res.text());
    assert.equal(failure.kind, 'redirect');
    assert.equal(failure.retryable, true);
    assert.equal(failure.message.includes('AIzaSECRETKEY'), false, failure.message);

    const anthropic = await useSim({ kind: 'anthropic' });
    anthropic.addFaults([{ kind: 'redirect', status: 302, location: 'https://moved.example/v1/messages' }]);
    const moved = await fetch(`${anthropic.url}/v1/messages`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.get('location'), 'https://moved.example/v1/messages');
    await moved.text();
  });

  it('bad fault shapes are refused with the field named', async () => {
    const res = await postJson(`${openaiSim.url}/_sim/faults`, {
      faults: [{ kind: 'redirect', status: 303 }],
    });
    assert.equal(res.status, 400);
    assert.match(res.text, /status/);
    assert.throws(() => openaiSim.addFaults([{ kind: 'delay', ms: -1 } as never]));
    assert.throws(() =>
      openaiSim.addFaults([{ kind: 'stream_error', afterChunks: 0, status: 502 } as never]),
    );
  });
});

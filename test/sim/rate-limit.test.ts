/**
 * The `rateLimit` knob: each sim counts its own traffic per rolling minute, tells every answer what
 * is left in its cloud's own headers (read here through the official SDKs' `.withResponse()` and
 * through the gateway's own readCapacity), and answers its native 429 once a limit is spent.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OpenAI, { AzureOpenAI } from 'openai';
import { readAnthropicCapacity } from '../../src/providers/anthropic/capacity.ts';
import { readOpenAICapacity } from '../../src/providers/openai/capacity.ts';
import { parseGoDuration, parseRfc3339 } from '../../src/providers/shared/capacity.ts';
import { postJson, useSim } from './helpers.ts';

const headersOf = (response: Response) => Object.fromEntries(response.headers.entries());
const words = (n: number) => [{ role: 'user' as const, content: `[sim:words=${n}]` }];

describe('OpenAI', () => {
  it('x-ratelimit-remaining-requests counts down per request; the 4th of 3 per minute is a RateLimitError', async () => {
    const sim = await useSim({ kind: 'openai', models: ['m'], rateLimit: { requestsPerMinute: 3 } });
    const client = new OpenAI({ apiKey: 'sk', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { data, response } = await client.chat.completions
        .create({ model: 'm', messages: words(2) })
        .withResponse();
      assert.equal(data.choices[0]?.message.content, 'word1 word2');
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '3');
      remaining.push(response.headers.get('x-ratelimit-remaining-requests') ?? '');
      // OpenAI's Go-style duration, until the minute's window is empty again.
      const reset = parseGoDuration(response.headers.get('x-ratelimit-reset-requests') ?? undefined);
      assert.ok(reset !== undefined && reset > 59_000 && reset <= 60_000, `reset ${reset}`);
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: words(2) }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, 'rate_limit_exceeded');
      assert.match(e.message, /requests per min \(RPM\): Limit 3, Used 3/);
      assert.equal(e.headers.get('x-ratelimit-remaining-requests'), '0');
      const retryAfterMs = Number(e.headers.get('retry-after-ms'));
      assert.ok(retryAfterMs > 0 && retryAfterMs <= 60_000, `retry-after-ms ${retryAfterMs}`);
      return true;
    });
    assert.equal(sim.requests().length, 4);
  });

  it('tokens: prompt and completion of earlier answers count; the gateway reads the same numbers', async () => {
    // Each answer costs 1 prompt token ("[sim:words=10]") + 10 completion tokens.
    const sim = await useSim({ kind: 'openai', models: ['m'], rateLimit: { tokensPerMinute: 30 } });
    const client = new OpenAI({ apiKey: 'sk', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions
        .create({ model: 'm', messages: words(10) })
        .withResponse();
      const signal = readOpenAICapacity(headersOf(response), Date.now());
      seen.push(signal?.remainingTokens);
      assert.equal(signal?.limitTokens, 30);
      // The requests pair keeps OpenAI's usual values: no request limit is set.
      assert.equal(signal?.limitRequests, 10_000);
    }
    assert.deepEqual(seen, [30, 19, 8]);
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: words(10) }),
      (e) => e instanceof OpenAI.RateLimitError && /tokens per min \(TPM\)/.test(e.message),
    );
  });
});

describe('Azure OpenAI and vLLM', () => {
  it('Azure: limit and remaining headers, no reset headers; 429 with Azure’s body', async () => {
    const sim = await useSim({ kind: 'azure-openai', models: ['dep'], rateLimit: { requestsPerMinute: 2 } });
    const client = new AzureOpenAI({
      apiKey: 'k',
      endpoint: sim.url,
      apiVersion: '2024-10-21',
      deployment: 'dep',
      maxRetries: 0,
    });
    const { response } = await client.chat.completions
      .create({ model: 'dep', messages: words(1) })
      .withResponse();
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.equal(response.headers.get('x-ratelimit-reset-requests'), null);
    assert.deepEqual(readOpenAICapacity(headersOf(response), 0), {
      remainingRequests: 1,
      remainingTokens: 999_000,
      limitRequests: 2,
      limitTokens: 1_000_000,
    });
    await client.chat.completions.create({ model: 'dep', messages: words(1) });
    await assert.rejects(
      client.chat.completions.create({ model: 'dep', messages: words(1) }),
      (e) => e instanceof OpenAI.RateLimitError && e.code === '429' && e.headers.get('retry-after') !== null,
    );
  });

  it('vLLM sends no capacity headers but still answers 429 once the limit is spent', async () => {
    const sim = await useSim({
      kind: 'openai-compatible',
      models: ['llama'],
      rateLimit: { requestsPerMinute: 1 },
    });
    const first = await postJson(`${sim.url}/v1/chat/completions`, { model: 'llama', messages: words(1) });
    assert.equal(first.status, 200);
    assert.equal(readOpenAICapacity(Object.fromEntries(first.headers.entries()), 0), undefined);
    const second = await postJson(`${sim.url}/v1/chat/completions`, { model: 'llama', messages: words(1) });
    assert.equal(second.status, 429);
  });
});

describe('Anthropic', () => {
  it('anthropic-ratelimit-* with RFC 3339 resets, the input and output trios with a token limit', async () => {
    const sim = await useSim({
      kind: 'anthropic',
      rateLimit: { requestsPerMinute: 2, tokensPerMinute: 1000 },
    });
    const client = new Anthropic({ apiKey: 'ak', baseURL: sim.url, maxRetries: 0 });
    const ask = () =>
      client.messages
        .create({
          model: 'claude-sonnet-4-6',
          max_tokens: 50,
          messages: [{ role: 'user', content: '[sim:words=5]' }],
        })
        .withResponse();
    await ask();
    const { response } = await ask();
    const h = response.headers;
    assert.equal(h.get('anthropic-ratelimit-requests-limit'), '2');
    assert.equal(h.get('anthropic-ratelimit-requests-remaining'), '0');
    // The first answer's 1 input + 5 output tokens.
    assert.equal(h.get('anthropic-ratelimit-tokens-remaining'), '994');
    assert.equal(h.get('anthropic-ratelimit-input-tokens-remaining'), '999');
    assert.equal(h.get('anthropic-ratelimit-output-tokens-remaining'), '995');
    const reset = parseRfc3339(h.get('anthropic-ratelimit-requests-reset') ?? undefined);
    assert.ok(
      reset !== undefined && reset > Date.now() + 55_000 && reset <= Date.now() + 61_000,
      `reset ${reset}`,
    );
    const signal = readAnthropicCapacity(headersOf(response), Date.now());
    assert.equal(signal?.remainingRequests, 0);
    assert.equal(signal?.remainingTokens, 994);
    assert.equal(signal?.limitTokens, 1000);
    await assert.rejects(ask(), (e) => {
      assert.ok(e instanceof Anthropic.RateLimitError);
      assert.equal(e.type, 'rate_limit_error');
      assert.ok(Number(e.headers?.get('retry-after')) >= 1);
      return true;
    });
  });
});

describe('clouds without capacity headers', () => {
  it('Bedrock: no such headers; a spent limit is a ThrottlingException', async () => {
    const sim = await useSim({ kind: 'bedrock', rateLimit: { requestsPerMinute: 1 } });
    const client = new BedrockRuntimeClient({
      endpoint: sim.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });
    const converse = () =>
      client.send(
        new ConverseCommand({
          modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      );
    const ok = await converse();
    assert.equal(ok.stopReason, 'end_turn');
    await assert.rejects(converse(), (e) => e instanceof Error && e.name === 'ThrottlingException');
  });

  it('Gemini: no such headers; a spent limit is 429 RESOURCE_EXHAUSTED', async () => {
    const sim = await useSim({ kind: 'gemini', rateLimit: { requestsPerMinute: 1 } });
    const url = `${sim.url}/v1beta/models/gemini-2.5-flash:generateContent`;
    const body = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    const first = await postJson(url, body, { 'x-goog-api-key': 'k' });
    assert.equal(first.status, 200);
    assert.equal(
      [...first.headers.keys()].some((name) => name.includes('ratelimit')),
      false,
    );
    const genai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: sim.url } });
    await assert.rejects(
      genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }),
      (e) => e instanceof Error && /RESOURCE_EXHAUSTED|429/.test(e.message),
    );
  });
});

describe('the knob', () => {
  it('set, read and cleared over HTTP; a bad value is a 400 naming the field', async () => {
    const sim = await useSim({ kind: 'openai', models: ['m'] });
    const knobs = `${sim.url}/_sim/knobs`;
    const set = await postJson(knobs, { rateLimit: { requestsPerMinute: 1 } });
    assert.deepEqual(set.json, { latencyMs: 0, tokensPerSecond: 0, rateLimit: { requestsPerMinute: 1 } });
    const ask = () =>
      postJson(
        `${sim.url}/v1/chat/completions`,
        { model: 'm', messages: words(1) },
        { authorization: 'Bearer k' },
      );
    assert.equal((await ask()).status, 200);
    assert.equal((await ask()).status, 429);
    const bad = await postJson(knobs, { rateLimit: { requestsPerMinute: 0 } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /requestsPerMinute/);
    const unknown = await postJson(knobs, { rateLimit: { rpm: 5 } });
    assert.equal(unknown.status, 400);
    const cleared = await postJson(knobs, { rateLimit: null });
    assert.deepEqual(cleared.json, { latencyMs: 0, tokensPerSecond: 0 });
    const again = await ask();
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-ratelimit-remaining-requests'), '9999', 'the usual static headers');
  });

  it('setKnobs validates like the HTTP API', async () => {
    const sim = await useSim({ kind: 'anthropic' });
    assert.throws(() => sim.setKnobs({ rateLimit: { requestsPerMinute: -2 } }));
    sim.setKnobs({ rateLimit: { tokensPerMinute: 10 } });
    assert.deepEqual(sim.knobs().rateLimit, { tokensPerMinute: 10 });
    sim.setKnobs({ rateLimit: null });
    assert.equal(sim.knobs().rateLimit, undefined);
  });
});

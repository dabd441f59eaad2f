/**
 * Fidelity of the vLLM-like OpenAI-compatible sim (the self-hosted servers' documentation: vLLM), driven by the openai SDK.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { collect, field, postJson, sseData, useSim } from './helpers.ts';

const open = await useSim({ kind: 'openai-compatible', models: ['Qwen/Qwen3-8B'] });
const locked = await useSim({ kind: 'openai-compatible', apiKeys: ['vllm-key'], models: ['Qwen/Qwen3-8B'] });
const client = new OpenAI({ apiKey: 'anything', baseURL: `${open.url}/v1`, maxRetries: 0 });
const model = 'Qwen/Qwen3-8B';
const messages = [{ role: 'user' as const, content: 'hi vllm' }];

describe('openai-compatible sim', () => {
  it('answers without system_fingerprint, service_tier or usage details', async () => {
    const completion = await client.chat.completions.create({ model, messages });
    assert.equal(
      completion.choices[0]!.message.content,
      'Hello from simulated vLLM (Qwen/Qwen3-8B). You said: hi vllm',
    );
    assert.ok(!('system_fingerprint' in completion));
    assert.ok(!('service_tier' in completion));
    assert.deepEqual(completion.usage, { prompt_tokens: 2, completion_tokens: 9, total_tokens: 11 });
  });

  it('streams without obfuscation and ends with [DONE]', async () => {
    const res = await postJson(`${open.url}/v1/chat/completions`, {
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const data = sseData(res.text);
    assert.equal(data.at(-1), '[DONE]');
    assert.ok(data.every((d) => !d.includes('obfuscation') && !d.includes('system_fingerprint')));
    const chunks = await collect(await client.chat.completions.create({ model, messages, stream: true }));
    assert.equal(
      chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
      'Hello from simulated vLLM (Qwen/Qwen3-8B). You said: hi vllm',
    );
  });

  it('needs no auth without keys, and tolerates extra sampling fields', async () => {
    const res = await postJson(`${open.url}/v1/chat/completions`, { model, messages, top_k: 20, min_p: 0.1 });
    assert.equal(res.status, 200);
  });

  it('falls back to the served model when the body names none', async () => {
    const res = await postJson(`${open.url}/v1/chat/completions`, { messages });
    assert.equal(field(res.json, 'model'), model);
  });

  it('with keys, a wrong key gets the bare {"error":"Unauthorized"}', async () => {
    const res = await postJson(
      `${locked.url}/v1/chat/completions`,
      { model, messages },
      { authorization: 'Bearer nope' },
    );
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { error: 'Unauthorized' });
    const wrong = new OpenAI({ apiKey: 'nope', baseURL: `${locked.url}/v1`, maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model, messages }), OpenAI.AuthenticationError);
    const right = new OpenAI({ apiKey: 'vllm-key', baseURL: `${locked.url}/v1`, maxRetries: 0 });
    assert.equal(
      (await right.chat.completions.create({ model, messages })).choices[0]!.finish_reason,
      'stop',
    );
  });

  it('wraps errors with an integer code', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'other', messages }), (error) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.deepEqual(error.error, {
        message: 'The model `other` does not exist.',
        type: 'NotFoundError',
        param: 'model',
        code: 404,
      });
      return true;
    });
    open.addFaults([{ kind: 'status', status: 429 }]);
    await assert.rejects(
      client.chat.completions.create({ model, messages }),
      (error) => error instanceof OpenAI.RateLimitError && field(error.error, 'code') === 429,
    );
  });

  it('lists the served model with vLLM fields', async () => {
    const models = await collect(client.models.list());
    assert.equal(models[0]!.id, model);
    assert.equal(models[0]!.owned_by, 'vllm');
    assert.equal(field(models[0], 'root'), model);
  });

  it('unknown routes get FastAPI\'s {"detail":"Not Found"}', async () => {
    const res = await postJson(`${open.url}/v1/nope`, {});
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { detail: 'Not Found' });
  });
});

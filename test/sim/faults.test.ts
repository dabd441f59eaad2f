/**
 * The fault script and knobs, observed through the official openai SDK and over the HTTP
 * control API. What the SDK does on each fault is asserted as it actually happens.
 */

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startSimCloud } from '../../src/sim/index.ts';
import { collect, field, postJson, sseData, useSim } from './helpers.ts';

const sim = await useSim({ kind: 'openai', apiKeys: ['sk-f'], models: ['m-a', 'm-b'] });
const client = new OpenAI({ apiKey: 'sk-f', baseURL: `${sim.url}/v1`, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: '[sim:words=10]' }];
const ask = (model = 'm-a') => client.chat.completions.create({ model, messages });

beforeEach(() => {
  sim.clearFaults();
  sim.setKnobs({ latencyMs: 0, tokensPerSecond: 0 });
});

describe('faults: status', () => {
  it('429 surfaces as RateLimitError with retry-after headers (default 1000 ms)', async () => {
    sim.addFaults([{ kind: 'status', status: 429 }]);
    await assert.rejects(ask(), (error) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.equal(error.type, 'requests');
      assert.equal(error.headers.get('retry-after'), '1');
      assert.equal(error.headers.get('retry-after-ms'), '1000');
      assert.match(error.requestID ?? '', /^req_/);
      return true;
    });
    assert.equal((await ask()).choices[0]!.finish_reason, 'stop', 'the fault applied once');
  });

  it('429 retry-after rounds seconds up; null omits the headers', async () => {
    sim.addFaults([
      { kind: 'status', status: 429, retryAfterMs: 2500 },
      { kind: 'status', status: 429, retryAfterMs: null },
    ]);
    await assert.rejects(
      ask(),
      (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '3',
    );
    await assert.rejects(
      ask(),
      (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === null,
    );
  });

  it('500 and 503 surface as InternalServerError with OpenAI bodies', async () => {
    sim.addFaults([
      { kind: 'status', status: 500 },
      { kind: 'status', status: 503 },
    ]);
    await assert.rejects(
      ask(),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 500 && e.type === 'server_error',
    );
    await assert.rejects(
      ask(),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 503 && e.code === 'server_is_overloaded',
    );
  });
});

describe('faults: connection', () => {
  it('reset surfaces as APIConnectionError', async () => {
    sim.addFaults([{ kind: 'reset' }]);
    await assert.rejects(
      ask(),
      (e) => e instanceof OpenAI.APIConnectionError && !(e instanceof OpenAI.APIConnectionTimeoutError),
    );
  });

  it('hang surfaces as APIConnectionTimeoutError with a short SDK timeout, and the sim keeps serving', async () => {
    sim.addFaults([{ kind: 'hang' }]);
    const impatient = client.withOptions({ timeout: 300 });
    await assert.rejects(
      impatient.chat.completions.create({ model: 'm-a', messages }),
      OpenAI.APIConnectionTimeoutError,
    );
    assert.equal(
      (await ask()).choices[0]!.message.content,
      'word1 word2 word3 word4 word5 word6 word7 word8 word9 word10',
    );
  });

  it('cut mid-stream: the for-await throws TypeError "terminated" after the chunks that arrived', async () => {
    sim.addFaults([{ kind: 'cut', afterChunks: 3 }]);
    const stream = await client.chat.completions.create({ model: 'm-a', messages, stream: true });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
      })(),
      (error) => {
        // openai-node does not wrap a body cut in APIError: undici's TypeError escapes the iterator.
        assert.ok(error instanceof TypeError);
        assert.equal(error.message, 'terminated');
        assert.ok(!(error instanceof OpenAI.APIError));
        return true;
      },
    );
    assert.deepEqual(seen, ['', 'word1', ' word2']);
  });

  it('cut on a non-streaming answer sends half the body, and the SDK throws TypeError "terminated"', async () => {
    sim.addFaults([{ kind: 'cut', afterChunks: 0 }]);
    await assert.rejects(ask(), (e) => e instanceof TypeError && e.message === 'terminated');
  });

  it('close() ends hanging requests instead of waiting for them', async () => {
    const own = await startSimCloud({ kind: 'openai' });
    own.addFaults([{ kind: 'hang' }]);
    const ownClient = new OpenAI({ apiKey: 'k', baseURL: `${own.url}/v1`, maxRetries: 0 });
    const pending = ownClient.chat.completions.create({ model: 'x', messages });
    // Wait until the sim has the request, then close under it.
    while (own.requests().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await own.close();
    await assert.rejects(pending, OpenAI.APIConnectionError);
  });
});

describe('faults: queue semantics', () => {
  it('applies queued faults once each, in order; times repeats one', async () => {
    sim.addFaults([
      { kind: 'status', status: 500, times: 2 },
      { kind: 'status', status: 429 },
    ]);
    await assert.rejects(ask(), (e) => e instanceof OpenAI.InternalServerError);
    await assert.rejects(ask(), (e) => e instanceof OpenAI.InternalServerError);
    await assert.rejects(ask(), (e) => e instanceof OpenAI.RateLimitError);
    await ask();
  });

  it("times: 'always' stays until cleared; match limits a fault to one model", async () => {
    sim.addFaults([{ kind: 'status', status: 503, times: 'always', match: { model: 'm-b' } }]);
    for (let i = 0; i < 3; i++) await assert.rejects(ask('m-b'), OpenAI.InternalServerError);
    await ask('m-a');
    assert.equal(sim.pendingFaults().length, 1);
    sim.clearFaults();
    await ask('m-b');
  });

  it('model listings do not consume faults', async () => {
    sim.addFaults([{ kind: 'status', status: 500 }]);
    await collect(client.models.list());
    await assert.rejects(ask(), OpenAI.InternalServerError);
  });
});

describe('faults: HTTP control API', () => {
  it('POST appends, GET lists, DELETE clears', async () => {
    const added = await postJson(`${sim.url}/_sim/faults`, {
      faults: [{ kind: 'status', status: 429, retryAfterMs: 50 }],
    });
    assert.equal(added.status, 200);
    await postJson(`${sim.url}/_sim/faults`, { faults: [{ kind: 'reset' }] });
    const listed = await (await fetch(`${sim.url}/_sim/faults`)).json();
    assert.deepEqual(
      (field(listed, 'faults') as unknown[]).map((f) => field(f, 'kind')),
      ['status', 'reset'],
    );
    await assert.rejects(ask(), OpenAI.RateLimitError);
    const cleared = await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' });
    assert.equal(cleared.status, 200);
    await ask();
  });

  it('rejects malformed faults with 400', async () => {
    const res = await postJson(`${sim.url}/_sim/faults`, { faults: [{ kind: 'explode' }] });
    assert.equal(res.status, 400);
    assert.equal(sim.pendingFaults().length, 0);
  });

  it('GET /_sim/requests returns recorded requests, newest last, secrets redacted', async () => {
    await fetch(`${sim.url}/_sim/requests`, { method: 'DELETE' });
    await ask('m-a');
    await client.embeddings.create({ model: 'm-b', input: 'hello' });
    const body = await (await fetch(`${sim.url}/_sim/requests`)).json();
    const data = field(body, 'data') as unknown[];
    assert.equal(data.length, 2);
    assert.equal(field(data, 0, 'method'), 'POST');
    assert.equal(field(data, 0, 'path'), '/v1/chat/completions');
    assert.equal(field(data, 0, 'body', 'model'), 'm-a');
    assert.equal(field(data, 0, 'headers', 'authorization'), 'Bearer [redacted]');
    assert.equal(field(data, 1, 'path'), '/v1/embeddings');
    assert.ok(!JSON.stringify(body).includes('sk-f'));
  });

  it('keeps only the last 200 requests', async () => {
    sim.clearRequests();
    const own = new OpenAI({ apiKey: 'sk-f', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    for (let i = 0; i < 205; i += 5) {
      await Promise.all(
        Array.from({ length: 5 }, (_, k) => own.models.retrieve(`m-${i + k}`).catch(() => undefined)),
      );
    }
    const recorded = sim.requests();
    assert.equal(recorded.length, 200);
    assert.ok(recorded.every((r) => r.path.startsWith('/v1/models/')));
  });

  it('knobs can be read and set over HTTP', async () => {
    const res = await postJson(`${sim.url}/_sim/knobs`, { latencyMs: 5, tokensPerSecond: 2000 });
    assert.deepEqual(res.json, { latencyMs: 5, tokensPerSecond: 2000 });
    const stream = await client.chat.completions.create({ model: 'm-a', messages, stream: true });
    const text = (await collect(stream)).map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'word1 word2 word3 word4 word5 word6 word7 word8 word9 word10');
  });
});

describe('streaming backpressure', () => {
  it('a reader that pauses still receives every event', async () => {
    const words = 20_000;
    const body = JSON.stringify({
      model: 'm-a',
      messages: [{ role: 'user', content: `[sim:words=${words}]` }],
      stream: true,
    });
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${sim.url}/v1/chat/completions`,
        { method: 'POST', headers: { authorization: 'Bearer sk-f', 'content-type': 'application/json' } },
        (res) => {
          const parts: Buffer[] = [];
          res.pause();
          // Let the server fill the socket buffers and hit write() === false before reading.
          setTimeout(() => {
            res.on('data', (chunk: Buffer) => parts.push(chunk));
            res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
            res.resume();
          }, 50);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const data = sseData(text);
    assert.equal(data.at(-1), '[DONE]');
    const contents = data
      .slice(0, -1)
      .map((d) => field(JSON.parse(d), 'choices', 0, 'delta', 'content') ?? '');
    assert.equal(contents.join('').split(' ').length, words);
  });
});

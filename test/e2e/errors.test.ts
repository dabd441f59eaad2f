import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { KEYS, resetSims, type Stack, startStack } from './stack.ts';

let stack: Stack;
let client: OpenAI;
before(async () => {
  stack = await startStack();
  client = stack.client();
});
after(() => stack.close());
beforeEach(() => resetSims(stack.sims));

const hi = [{ role: 'user' as const, content: 'hi' }];

/** Runs a call that must fail and returns the SDK's error. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  assert.fail('the call succeeded');
}

async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.url}${path}`, init);
}

describe('client errors, in OpenAI shape, with the contract headers', () => {
  test('401 without a key and with an unknown key; the key is never echoed', async () => {
    const missing = await raw('/v1/chat/completions', { method: 'POST', body: '{}' });
    assert.equal(missing.status, 401);
    assert.ok(missing.headers.get('x-request-id'));
    assert.equal(missing.headers.get('x-switchyard-attempts'), '0');
    const bad = await apiError(
      stack.client('sk-wrong-key-123456').chat.completions.create({ model: 'gpt-5', messages: hi }),
    );
    assert.ok(bad instanceof OpenAI.AuthenticationError);
    assert.equal(bad.code, 'invalid_api_key');
    assert.ok(!bad.message.includes('sk-wrong-key-123456'));
  });

  test('400 names the field and the rule', async () => {
    const err = await apiError(
      client.chat.completions.create({ model: 'gpt-5', messages: hi, temperature: 3 }),
    );
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, 'temperature');
    assert.match(err.message, /temperature: must be between 0 and 2/);
    const content = await apiError(
      client.chat.completions.create({
        model: 'gpt-5',
        messages: [{ role: 'user', content: 42 as unknown as string }],
      }),
    );
    assert.equal(content.status, 400);
    assert.match(content.message, /messages\[0\]\.content/);
    const unknownField = await apiError(
      client.chat.completions.create({
        model: 'gpt-5',
        messages: hi,
        frobnicate: true,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming),
    );
    assert.match(unknownField.message, /unrecognized argument "frobnicate"/);
    const notJson = await raw('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.app}`, 'content-type': 'application/json' },
      body: '{"model":',
    });
    assert.equal(notJson.status, 400);
    assert.match(
      ((await notJson.json()) as { error: { message: string } }).error.message,
      /could not be parsed as JSON/,
    );
  });

  test('404 for an unknown model and an unknown route; 405 for a wrong method', async () => {
    const err = await apiError(client.chat.completions.create({ model: 'no-such-model', messages: hi }));
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, 'model_not_found');
    const route = await raw('/v1/nothing', { headers: { authorization: `Bearer ${KEYS.app}` } });
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as { error: { code: string } }).error.code, 'route_not_found');
    const method = await raw('/v1/chat/completions');
    assert.equal(method.status, 405);
    // A malformed path must be answered, not crash the server.
    const malformed = await raw('/v1/models/%E0%A4%A', { headers: { authorization: `Bearer ${KEYS.app}` } });
    assert.equal(malformed.status, 404);
    assert.equal((await raw('/healthz')).status, 200);
  });

  test('403 when the key may not use the model', async () => {
    const err = await apiError(
      stack.client(KEYS.limited).chat.completions.create({ model: 'llama', messages: hi }),
    );
    assert.ok(err instanceof OpenAI.PermissionDeniedError);
    assert.match(err.message, /not allowed to use model "llama"/);
  });

  test('413 for a body over server.maxBodyBytes', async () => {
    const err = await apiError(
      client.chat.completions.create({
        model: 'gpt-5',
        messages: [{ role: 'user', content: 'x'.repeat(70_000) }],
      }),
    );
    assert.equal(err.status, 413);
    assert.equal(err.code, 'body_too_large');
    assert.match(err.message, /server\.maxBodyBytes/);
  });

  test('431 for oversized request headers', async () => {
    const response = await raw('/healthz', { headers: { 'x-big': 'y'.repeat(40_000) } });
    assert.equal(response.status, 431);
  });

  test('an upstream 400 is passed through, not failed over', async () => {
    const err = await apiError(
      stack.client().chat.completions.create({
        model: 'gpt-5',
        messages: [{ role: 'user', content: 'bad [sim:finish=content_filter]' }],
      }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.code, 'content_filter');
    assert.match(err.message, /content management policy/);
    const body = err.error as { innererror?: { code: string } };
    assert.equal(body.innererror?.code, 'ResponsibleAIPolicyViolation');
    assert.equal(err.headers?.get('x-switchyard-provider'), 'azure-eastus');
    assert.equal(err.headers?.get('x-switchyard-attempts'), '1');
    assert.equal(stack.sims.openai.requests().length, 0, 'a client error must not be retried elsewhere');
  });

  test('healthz and readyz', async () => {
    assert.deepEqual(await (await raw('/healthz')).json(), { status: 'ok' });
    assert.deepEqual(await (await raw('/readyz')).json(), { status: 'ready' });
  });
});

describe('failover: Azure first, another cloud when Azure fails', () => {
  for (const [name, fault] of [
    ['503', { kind: 'status', status: 503 }],
    ['500', { kind: 'status', status: 500 }],
    ['429 with retry-after', { kind: 'status', status: 429, retryAfterMs: 1 }],
    ['connection reset', { kind: 'reset' }],
  ] as const) {
    test(`${name} at Azure → served by OpenAI, invisibly`, async () => {
      stack.sims.azure.addFaults([fault]);
      const { data, response } = await client.chat.completions
        .create({ model: 'gpt-5', messages: hi })
        .withResponse();
      assert.match(data.choices[0]?.message.content ?? '', /^Hello from simulated OpenAI \(gpt-5\)/);
      assert.equal(response.headers.get('x-switchyard-provider'), 'openai');
      assert.equal(response.headers.get('x-switchyard-deployment'), 'gpt-5');
      assert.equal(response.headers.get('x-switchyard-attempts'), '2');
    });
  }

  test('a stream whose first attempt fails before the first byte fails over invisibly', async () => {
    stack.sims.azure.addFaults([{ kind: 'cut', afterChunks: 0 }]);
    const stream = await client.chat.completions.create({ model: 'gpt-5', stream: true, messages: hi });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.match(text, /^Hello from simulated OpenAI/);
  });

  test('a stream from a hanging Azure is abandoned at the first-byte timeout', async () => {
    stack.sims.azure.addFaults([{ kind: 'hang' }]);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'quick', stream: true, messages: hi })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.match(text, /simulated OpenAI/);
    assert.equal(response.headers.get('x-switchyard-attempts'), '2');
  });

  test('when every deployment fails, 502 lists each attempt and why', async () => {
    stack.sims.azure.addFaults([{ kind: 'status', status: 500 }]);
    stack.sims.openai.addFaults([{ kind: 'reset' }]);
    const err = await apiError(client.chat.completions.create({ model: 'gpt-5', messages: hi }));
    assert.equal(err.status, 502);
    assert.match(err.message, /azure-eastus\/gpt-5-prod: failed 500/);
    assert.match(err.message, /openai\/gpt-5: failed \(connection: connection reset by the upstream\)/);
    assert.equal(err.headers?.get('x-switchyard-attempts'), '2');
  });

  test('a single deployment that hangs answers 504: at firstByteMs for a stream, at totalMs otherwise', async () => {
    const quickSolo = await startStack(
      (sims) => `
routing: { timeouts: { firstByteMs: 200, totalMs: 700 } }
providers:
  - { id: azure-eastus, type: azure-openai, endpoint: ${sims.azure.url}, apiKey: azure-test-key }
models:
  - name: solo
    deployments: [{ provider: azure-eastus, model: gpt-5-prod }]
keys:
  - { name: app, key: ${KEYS.app} }
`,
    );
    try {
      quickSolo.sims.azure.addFaults([{ kind: 'hang', times: 2 }]);
      const streamed = await apiError(
        quickSolo.client().chat.completions.create({ model: 'solo', stream: true, messages: hi }),
      );
      assert.equal(streamed.status, 504);
      assert.match(streamed.message, /no first output within 200 ms/);
      const started = Date.now();
      const whole = await apiError(
        quickSolo.client().chat.completions.create({ model: 'solo', messages: hi }),
      );
      assert.equal(whole.status, 504);
      assert.match(whole.message, /total timeout reached/);
      assert.ok(Date.now() - started >= 600, 'a non-streaming answer is waited for up to totalMs');
    } finally {
      await quickSolo.close();
    }
  });
});

describe('throttling', () => {
  test('when every eligible deployment is throttled the client gets 429 with retry-after, and throttled deployments are skipped until then', async () => {
    const own = await startStack();
    try {
      own.sims.azure.addFaults([{ kind: 'status', status: 429, retryAfterMs: 30_000 }]);
      own.sims.openai.addFaults([{ kind: 'status', status: 429, retryAfterMs: 5_000 }]);
      const c = own.client();
      const err = await apiError(c.chat.completions.create({ model: 'gpt-5', messages: hi }));
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.headers?.get('retry-after'), '5');
      assert.match(err.message, /out of capacity/);
      // Both deployments now sit out their retry-after: the next request does not even try them.
      const again = await apiError(c.chat.completions.create({ model: 'gpt-5', messages: hi }));
      assert.equal(again.status, 429);
      assert.equal(again.headers?.get('x-switchyard-attempts'), '0');
      assert.equal(own.sims.azure.requests().filter((r) => r.path.includes('chat')).length, 1);
      // A throttled primary is skipped while the secondary serves.
      const solo = await apiError(c.chat.completions.create({ model: 'solo', messages: hi }));
      assert.equal(solo.status, 429);
    } finally {
      await own.close();
    }
  });
});

describe('mid-stream failure', () => {
  test('an upstream cut after the first byte ends the stream with an error event, never a fake [DONE]', async () => {
    stack.sims.azure.addFaults([{ kind: 'cut', afterChunks: 3 }]);
    const response = await raw('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.app}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-5',
        stream: true,
        messages: [{ role: 'user', content: 'long [sim:words=50]' }],
      }),
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes('[DONE]'), 'no [DONE] after a failure');
    const blocks = text.trim().split('\n\n');
    const last = blocks.at(-1) ?? '';
    assert.match(last, /^event: error\ndata: /);
    const body = JSON.parse(last.split('\ndata: ')[1] ?? '{}') as {
      error: { code: string; message: string };
    };
    assert.equal(body.error.code, 'upstream_stream_failed');
    assert.match(body.error.message, /azure-eastus\/gpt-5-prod failed after it started/);
    assert.ok(blocks.length > 2, 'content was streamed before the failure');
  });

  test('the official SDK raises the error event as an APIError', async () => {
    stack.sims.azure.addFaults([{ kind: 'cut', afterChunks: 3 }]);
    const stream = await client.chat.completions.create({
      model: 'gpt-5',
      stream: true,
      messages: [{ role: 'user', content: '[sim:words=50]' }],
    });
    let text = '';
    await assert.rejects(
      async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      },
      (err: unknown) => err instanceof OpenAI.APIError && /failed after it started/.test(err.message),
    );
    assert.ok(text.length > 0);
  });
});

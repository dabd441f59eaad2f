import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { KEYS, resetSims, type Stack, startStack } from './stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());
beforeEach(() => resetSims(stack.sims));

describe('embeddings', () => {
  test('the SDK default (base64) and float give the same vectors', async () => {
    const client = stack.client();
    const viaBase64 = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    const viaFloat = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    });
    assert.equal(viaBase64.data.length, 2);
    assert.deepEqual(
      viaBase64.data.map((d) => d.embedding),
      viaFloat.data.map((d) => d.embedding),
    );
    assert.equal(viaBase64.data[0]?.embedding.length, 8);
    assert.notDeepEqual(viaBase64.data[0]?.embedding, viaBase64.data[1]?.embedding);
    assert.ok((viaFloat.usage.prompt_tokens ?? 0) > 0);
  });

  test('base64 is honoured on the wire: little-endian float32', async () => {
    const response = await fetch(`${stack.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.app}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'text-embedding-3-small',
        input: 'alpha',
        encoding_format: 'base64',
        dimensions: 4,
      }),
    });
    const body = (await response.json()) as { data: { embedding: string }[]; model: string };
    assert.equal(typeof body.data[0]?.embedding, 'string');
    const bytes = Buffer.from(body.data[0]?.embedding ?? '', 'base64');
    assert.equal(bytes.length, 16, 'four float32 values');
    assert.equal(body.model, 'text-embedding-3-small');
    assert.equal(response.headers.get('x-switchyard-provider'), 'azure-eastus');
    const upstream = stack.sims.azure.requests().at(-1);
    assert.equal(upstream?.path, '/openai/deployments/emb-small/embeddings');
    assert.equal((upstream?.body as { dimensions?: number } | undefined)?.dimensions, 4);
  });

  test('embeddings fail over like chat', async () => {
    stack.sims.azure.addFaults([{ kind: 'status', status: 503 }]);
    const { response } = await stack
      .client()
      .embeddings.create({ model: 'text-embedding-3-small', input: 'x' })
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-provider'), 'openai');
    assert.equal(response.headers.get('x-switchyard-attempts'), '2');
  });

  test('bad input names the field', async () => {
    const err = await stack
      .client()
      .embeddings.create({ model: 'text-embedding-3-small', input: '' })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, 'input[0]');
  });
});

describe('models', () => {
  test('lists the models this key may use', async () => {
    const all = [];
    for await (const model of stack.client().models.list()) all.push(model.id);
    assert.deepEqual(all.sort(), ['gpt-5', 'gpt-5-v1', 'llama', 'quick', 'solo', 'text-embedding-3-small']);
    const limited = [];
    for await (const model of stack.client(KEYS.limited).models.list()) limited.push(model.id);
    assert.deepEqual(limited, ['gpt-5']);
  });

  test('retrieves one model, 404 for one the key may not see', async () => {
    const model = await stack.client().models.retrieve('gpt-5');
    assert.deepEqual([model.id, model.object, model.owned_by], ['gpt-5', 'model', 'switchyard']);
    const err = await stack
      .client(KEYS.limited)
      .models.retrieve('llama')
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
  });
});

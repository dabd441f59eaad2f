/** Bedrock embeddings through InvokeModel: Titan (one input per call) and Cohere (≤ 96 texts per call). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request as undiciRequest } from 'undici';
import { parseConfigText } from '../../src/config/index.ts';
import type { EmbeddingRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import {
  decodeEmbeddingsBody,
  embeddingsBatchSize,
  encodeEmbeddingsBody,
} from '../../src/providers/bedrock/embeddings.ts';
import { createProvider } from '../../src/providers/registry.ts';
import type { Provider } from '../../src/providers/types.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { TEST_PROVIDER_CONTEXT } from './helpers.ts';

const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

const embedding = (
  input: EmbeddingRequest['input'],
  extra: Partial<EmbeddingRequest> = {},
): EmbeddingRequest => ({
  model: 'e',
  input,
  encodingFormat: 'float',
  ...extra,
});

function refused(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  return assert.fail('expected a GatewayError');
}

describe('bedrock embeddings: bodies', () => {
  it('Titan: one inputText per call, dimensions passed on', () => {
    assert.equal(embeddingsBatchSize(TITAN), 1);
    assert.equal(embeddingsBatchSize(`us.${TITAN}`), 1);
    assert.deepEqual(encodeEmbeddingsBody(embedding(['alpha'], { dimensions: 256 }), TITAN), {
      inputText: 'alpha',
      dimensions: 256,
    });
    assert.equal(refused(() => encodeEmbeddingsBody(embedding(['a', 'b']), TITAN)).param, 'input');
    assert.equal(
      refused(() => encodeEmbeddingsBody(embedding(['a'], { dimensions: 8 }), 'amazon.titan-embed-text-v1'))
        .param,
      'dimensions',
    );
  });

  it('Cohere: texts with input_type search_document, 96 per call, no dimensions', () => {
    assert.equal(embeddingsBatchSize(COHERE), 96);
    assert.deepEqual(encodeEmbeddingsBody(embedding(['a', 'b']), COHERE), {
      texts: ['a', 'b'],
      input_type: 'search_document',
    });
    assert.equal(
      refused(() => encodeEmbeddingsBody(embedding(['a'], { dimensions: 256 }), COHERE)).param,
      'dimensions',
    );
  });

  it('token-id inputs and other models are refused naming the field', () => {
    assert.equal(refused(() => encodeEmbeddingsBody(embedding([[1, 2, 3]]), TITAN)).param, 'input');
    const other = refused(() =>
      encodeEmbeddingsBody(embedding(['a']), 'anthropic.claude-3-haiku-20240307-v1:0'),
    );
    assert.equal(other.param, 'model');
    assert.equal(other.status, 400);
  });

  it('decodes Titan (with its token count) and Cohere (list or embeddings_by_type)', () => {
    const titan = decodeEmbeddingsBody({ embedding: [0.5, -0.25], inputTextTokenCount: 3 });
    assert.deepEqual(Array.from(titan.vectors[0] ?? []), [0.5, -0.25]);
    assert.deepEqual(titan.usage, { promptTokens: 3, totalTokens: 3 });
    const cohere = decodeEmbeddingsBody({
      id: 'x',
      embeddings: [[1], [2]],
      response_type: 'embeddings_floats',
    });
    assert.deepEqual(
      cohere.vectors.map((v) => Array.from(v)),
      [[1], [2]],
    );
    const byType = decodeEmbeddingsBody({
      embeddings: { float: [[0.25]] },
      response_type: 'embeddings_by_type',
    });
    assert.deepEqual(Array.from(byType.vectors[0] ?? []), [0.25]);
    assert.throws(() => decodeEmbeddingsBody({ message: 'x' }), /holds no embeddings/);
  });
});

describe('bedrock embeddings against the simulated Bedrock', () => {
  let sim: SimCloud;
  let provider: Provider;
  before(async () => {
    sim = await startSimCloud({ kind: 'bedrock', region: 'eu-central-1', apiKeys: ['k-1'] });
    const config = parseConfigText(
      `providers:
  - { id: b, type: bedrock, region: eu-central-1, endpoint: "${sim.url}", apiKey: k-1 }
models:
  - { name: e, deployments: [{ provider: b, model: x }] }
`,
      '/tmp/b.yaml',
      {},
    );
    provider = createProvider(config.providers[0]!, TEST_PROVIDER_CONTEXT);
  });
  after(() => sim.close());

  for (const [model, dims] of [
    [TITAN, 1024],
    [COHERE, 1024],
  ] as const) {
    it(`${model}: the InvokeModel call is accepted and decodes`, async () => {
      const call = await provider.embeddingsCall!(embedding(['alpha beta']), { model });
      assert.equal(call.url, `${sim.url}/model/${encodeURIComponent(model)}/invoke`);
      const res = await undiciRequest(call.url, {
        method: 'POST',
        headers: call.headers,
        body: call.body ?? null,
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, text);
      const result = provider.decodeEmbeddings!(JSON.parse(text));
      assert.equal(result.vectors.length, 1);
      assert.equal(result.vectors[0]?.length, dims);
    });
  }
});

/** OpenAI-family embeddings: base64 little-endian float32 both ways, request body, response ordering. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  base64ToFloat32,
  decodeEmbeddingsBody,
  encodeEmbeddingsBody,
  float32ToBase64,
} from '../../src/providers/openai/embeddings.ts';
import { UpstreamError } from '../../src/providers/types.ts';
import { seededRandom } from './helpers.ts';

/** The reference encoding, written out with an explicit little-endian DataView. */
function referenceBase64(values: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (const [i, v] of values.entries()) view.setFloat32(i * 4, v, true);
  return Buffer.from(view.buffer).toString('base64');
}

describe('float32 ⇄ base64', () => {
  it('known values: 1.0f is 00 00 80 3f little-endian', () => {
    assert.equal(float32ToBase64(Float32Array.of(1)), 'AACAPw==');
    assert.deepEqual(base64ToFloat32('AACAPw=='), Float32Array.of(1));
    assert.equal(float32ToBase64(Float32Array.of(1, -2)), 'AACAPwAAAMA=');
    assert.equal(float32ToBase64(new Float32Array(0)), '');
    assert.deepEqual(base64ToFloat32(''), new Float32Array(0));
  });

  it('matches an explicit little-endian encoding, and decodes back bit for bit', () => {
    const next = seededRandom(7);
    const values = Array.from({ length: 1536 }, () => (next() - 0.5) * 2);
    values.push(0, -0, Number.MIN_VALUE, 3.4e38, -1e-7);
    const vector = Float32Array.from(values);
    const encoded = float32ToBase64(vector);
    assert.equal(encoded, referenceBase64([...vector]));
    assert.deepEqual(base64ToFloat32(encoded), vector);
  });

  it('a view into a larger buffer encodes only its own bytes', () => {
    const whole = Float32Array.of(9, 1, -2, 9);
    assert.equal(float32ToBase64(whole.subarray(1, 3)), referenceBase64([1, -2]));
  });

  it('decoding works whatever the Buffer pool offset (unaligned bytes are copied)', () => {
    // Small Buffers share a pool; decode several in a row so some land at odd offsets.
    for (let n = 1; n <= 9; n++) {
      const values = Array.from({ length: n }, (_, i) => i * 0.5 - 1);
      assert.deepEqual(base64ToFloat32(referenceBase64(values)), Float32Array.from(values), `length ${n}`);
    }
  });
});

describe('encodeEmbeddingsBody', () => {
  it('always asks the upstream for base64; dimensions and user only when given', () => {
    assert.deepEqual(
      encodeEmbeddingsBody({ model: 'emb', input: ['a', 'b'], encodingFormat: 'float' }, 'emb-small'),
      {
        model: 'emb-small',
        input: ['a', 'b'],
        encoding_format: 'base64',
      },
    );
    assert.deepEqual(
      encodeEmbeddingsBody(
        { model: 'emb', input: [[1, 2, 3]], encodingFormat: 'base64', dimensions: 256, user: 'u-1' },
        'text-embedding-3-small',
      ),
      {
        model: 'text-embedding-3-small',
        input: [[1, 2, 3]],
        encoding_format: 'base64',
        dimensions: 256,
        user: 'u-1',
      },
    );
  });
});

describe('decodeEmbeddingsBody', () => {
  it('rows come back in index order, base64 and float arrays alike', () => {
    const result = decodeEmbeddingsBody({
      object: 'list',
      data: [
        { object: 'embedding', index: 2, embedding: referenceBase64([0.5, 0.25]) },
        { object: 'embedding', index: 0, embedding: [1, 2] },
        { object: 'embedding', index: 1, embedding: referenceBase64([-1, -2]) },
      ],
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 12, total_tokens: 12 },
    });
    assert.deepEqual(result, {
      vectors: [Float32Array.of(1, 2), Float32Array.of(-1, -2), Float32Array.of(0.5, 0.25)],
      usage: { promptTokens: 12, totalTokens: 12 },
      model: 'text-embedding-3-small',
    });
  });

  it('missing usage counts as 0; total defaults to the prompt count; no model when none is reported', () => {
    assert.deepEqual(decodeEmbeddingsBody({ data: [] }), {
      vectors: [],
      usage: { promptTokens: 0, totalTokens: 0 },
    });
    assert.deepEqual(decodeEmbeddingsBody({ data: [], usage: { prompt_tokens: 5 } }).usage, {
      promptTokens: 5,
      totalTokens: 5,
    });
  });

  it('a body that is not an object is a retryable protocol failure', () => {
    assert.throws(
      () => decodeEmbeddingsBody('nope'),
      (err: unknown) =>
        err instanceof UpstreamError && err.failure.kind === 'protocol' && err.failure.retryable === true,
    );
  });

  it('base64 whose length is not a whole number of float32s is a protocol failure', () => {
    assert.throws(
      () => decodeEmbeddingsBody({ data: [{ index: 0, embedding: 'AACAPwAA' }] }),
      (err: unknown) => err instanceof UpstreamError && err.failure.kind === 'protocol',
    );
  });
});

/** Ingress: OpenAI embeddings bodies → EmbeddingRequest, and their rejections. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEmbeddingBody } from '../../src/ingress/openai/embeddings.ts';
import { assertInvalid } from './helpers.ts';

describe('parseEmbeddingBody: valid bodies', () => {
  it('a single string becomes a one-item list; the format defaults to float', () => {
    assert.deepEqual(parseEmbeddingBody({ model: 'text-embedding-3-small', input: 'hello' }), {
      model: 'text-embedding-3-small',
      input: ['hello'],
      encodingFormat: 'float',
    });
  });

  it('a list of strings, base64, dimensions and user', () => {
    assert.deepEqual(
      parseEmbeddingBody({
        model: 'emb',
        input: ['a', 'b'],
        encoding_format: 'base64',
        dimensions: 256,
        user: 'u-1',
      }),
      { model: 'emb', input: ['a', 'b'], encodingFormat: 'base64', dimensions: 256, user: 'u-1' },
    );
  });

  it('one token array becomes a one-item list of token arrays; several stay as they are', () => {
    assert.deepEqual(parseEmbeddingBody({ model: 'emb', input: [1, 2, 3] }).input, [[1, 2, 3]]);
    assert.deepEqual(parseEmbeddingBody({ model: 'emb', input: [[1, 2], [3]] }).input, [[1, 2], [3]]);
  });
});

describe('parseEmbeddingBody: rejections', () => {
  it('an empty string', () => {
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: '' }), {
      param: 'input[0]',
      message: 'input[0]: must not be an empty string',
    });
  });

  it('an empty string inside a list names its index', () => {
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: ['ok', ''] }), {
      param: 'input[1]',
      message: 'input[1]: must not be an empty string',
    });
  });

  it('an empty array is refused with param input', () => {
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: [] }), {
      param: 'input',
      message: /^input: /,
    });
  });

  it('an empty array names the rule ("must not be empty")', () => {
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: [] }), {
      param: 'input',
      message: 'input: must not be empty',
    });
  });

  it('an empty token array inside a list', () => {
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: [[]] }), {
      param: 'input[0]',
      message: 'input[0]: must not be empty',
    });
  });

  it('missing model or input, unknown field, bad encoding_format, dimensions 0', () => {
    assertInvalid(() => parseEmbeddingBody({ input: 'x' }), {
      param: 'model',
      message: 'model: is required',
    });
    assertInvalid(() => parseEmbeddingBody({ model: 'emb' }), { param: 'input', message: /^input: / });
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: 'x', truncate: true }), {
      param: null,
      message: 'body: unrecognized argument "truncate"',
    });
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: 'x', encoding_format: 'int8' }), {
      param: 'encoding_format',
      message: /^encoding_format: /,
    });
    assertInvalid(() => parseEmbeddingBody({ model: 'emb', input: 'x', dimensions: 0 }), {
      param: 'dimensions',
      message: 'dimensions: must be at least 1',
    });
  });
});

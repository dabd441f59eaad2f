/**
 * Embeddings through InvokeModel (AWS Bedrock API reference: InvokeModel / InvokeModelWithResponseStream (native bodies)), in the model vendor's own body: Titan takes one
 * `inputText` per call, Cohere up to 96 `texts`. The gateway splits a request into calls of at most
 * `embeddingsBatchSize` inputs (Provider.embeddingsBatchSize) and joins the vectors in order.
 */

import type { EmbeddingRequest, EmbeddingResult } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';
import { asArray, asNumber, asObject, type JsonObject } from '../../core/json.ts';
import { UpstreamError } from '../types.ts';
import { CLOUD_NAME } from './encode.ts';
import { embeddingFamily } from './models.ts';

/** Cohere's limit on `texts` per call. */
const COHERE_MAX_TEXTS = 96;

/** How many inputs one InvokeModel call of this model takes. */
export function embeddingsBatchSize(modelId: string): number {
  return embeddingFamily(modelId) === 'cohere' ? COHERE_MAX_TEXTS : 1;
}

export function encodeEmbeddingsBody(request: EmbeddingRequest, modelId: string): JsonObject {
  const family = embeddingFamily(modelId);
  if (!family) {
    throw unsupportedParameter(
      'model',
      CLOUD_NAME,
      `${modelId} is not an embeddings model Switchyard speaks (amazon.titan-embed-* or cohere.embed-*)`,
    );
  }
  const texts = request.input.map((item) => {
    if (typeof item !== 'string')
      throw unsupportedParameter('input', CLOUD_NAME, 'token-id inputs; send text');
    return item;
  });
  if (texts.length > embeddingsBatchSize(modelId)) {
    throw unsupportedParameter(
      'input',
      CLOUD_NAME,
      `${modelId} takes ${embeddingsBatchSize(modelId)} input(s) per call`,
    );
  }
  if (family === 'cohere') {
    if (request.dimensions !== undefined) {
      throw unsupportedParameter('dimensions', CLOUD_NAME, 'Cohere embeddings on Bedrock have a fixed size');
    }
    // OpenAI's API has no input type; stored documents are the common case for an embeddings endpoint.
    return { texts, input_type: 'search_document' };
  }
  if (request.dimensions !== undefined && modelId.includes('titan-embed-text-v1')) {
    throw unsupportedParameter('dimensions', CLOUD_NAME, 'Titan text embeddings v1 have a fixed size');
  }
  return {
    inputText: texts[0] ?? '',
    ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions }),
  };
}

function vector(value: unknown): Float32Array {
  return Float32Array.from(asArray(value).map((x) => asNumber(x) ?? 0));
}

/**
 * Titan `{embedding, inputTextTokenCount}` or Cohere `{embeddings: [[...]] | {float: [[...]]}}`.
 * Cohere reports no token count in the body: its usage is 0.
 */
export function decodeEmbeddingsBody(value: unknown): EmbeddingResult {
  const body = asObject(value);
  if (body && Array.isArray(body.embedding)) {
    const tokens = asNumber(body.inputTextTokenCount) ?? 0;
    return { vectors: [vector(body.embedding)], usage: { promptTokens: tokens, totalTokens: tokens } };
  }
  const rows = body && (Array.isArray(body.embeddings) ? body.embeddings : asObject(body.embeddings)?.float);
  if (Array.isArray(rows)) return { vectors: rows.map(vector), usage: { promptTokens: 0, totalTokens: 0 } };
  throw new UpstreamError({
    kind: 'protocol',
    retryable: true,
    message: 'the InvokeModel body holds no embeddings',
  });
}

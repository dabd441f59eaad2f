import type { EmbeddingRequest, EmbeddingResult } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';
import { asArray, asNumber, asObject } from '../../core/json.ts';
import { UpstreamError } from '../types.ts';

/**
 * Embeddings (Gemini API and Vertex AI reference: Embeddings). The Gemini API embeds a batch with `:batchEmbedContents`; Vertex's text
 * embedding models (text-embedding-*, text-multilingual-embedding-*, gemini-embedding-001) take a
 * batch with `:predict`. Neither takes token ids, so token-array inputs are refused.
 */

type JsonObject = Record<string, unknown>;

function texts(request: EmbeddingRequest, cloud: string): string[] {
  const input = request.input;
  if (!input.every((item): item is string => typeof item === 'string')) {
    throw unsupportedParameter('input', cloud, 'token-id arrays are not accepted; send text');
  }
  return input;
}

/** Body of `POST .../models/{model}:batchEmbedContents` on the Gemini API. */
export function encodeBatchEmbedContents(
  request: EmbeddingRequest,
  model: string,
  cloud: string,
): JsonObject {
  const resource = model.includes('/') ? model : `models/${model}`;
  return {
    requests: texts(request, cloud).map((text) => ({
      model: resource,
      content: { parts: [{ text }] },
      ...(request.dimensions === undefined ? {} : { outputDimensionality: request.dimensions }),
    })),
  };
}

/** Body of `POST .../models/{model}:predict` on Vertex. */
export function encodeVertexPredict(request: EmbeddingRequest, cloud: string): JsonObject {
  return {
    instances: texts(request, cloud).map((content) => ({ content })),
    ...(request.dimensions === undefined ? {} : { parameters: { outputDimensionality: request.dimensions } }),
  };
}

function vector(values: unknown): Float32Array {
  return Float32Array.from(asArray(values).map((x) => asNumber(x) ?? 0));
}

function notJson(): UpstreamError {
  return new UpstreamError({
    kind: 'protocol',
    retryable: true,
    message: 'embeddings body is not a JSON object',
  });
}

/** `{embeddings: [{values}], usageMetadata?}`. The Gemini API may report no token count: usage is then 0. */
export function decodeBatchEmbedContents(value: unknown): EmbeddingResult {
  const body = asObject(value);
  if (!body) throw notJson();
  const vectors = asArray(body.embeddings).map((e) => vector(asObject(e)?.values));
  if (vectors.length === 0) throw noVectors();
  const promptTokens = asNumber(asObject(body.usageMetadata)?.promptTokenCount) ?? 0;
  return { vectors, usage: { promptTokens, totalTokens: promptTokens } };
}

/** `{predictions: [{embeddings: {values, statistics: {token_count, truncated}}}]}`. */
export function decodeVertexPredict(value: unknown): EmbeddingResult {
  const body = asObject(value);
  if (!body) throw notJson();
  let promptTokens = 0;
  const vectors = asArray(body.predictions).map((p) => {
    const embeddings = asObject(asObject(p)?.embeddings);
    promptTokens += asNumber(asObject(embeddings?.statistics)?.token_count) ?? 0;
    return vector(embeddings?.values);
  });
  if (vectors.length === 0) throw noVectors();
  return { vectors, usage: { promptTokens, totalTokens: promptTokens } };
}

function noVectors(): UpstreamError {
  return new UpstreamError({
    kind: 'protocol',
    retryable: true,
    message: 'the embeddings answer holds no vectors',
  });
}

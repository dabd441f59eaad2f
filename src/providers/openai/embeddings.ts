import type { EmbeddingRequest, EmbeddingResult } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString } from '../../core/json.ts';
import { UpstreamError } from '../types.ts';

/** Base64 of little-endian float32s, the wire form OpenAI's SDK asks for by default. */
export function float32ToBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

export function base64ToFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  // Copy into an aligned buffer: a Buffer's offset into its pool need not be a multiple of 4.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Upstreams are asked for base64: smaller on the wire and no float parsing. */
export function encodeEmbeddingsBody(request: EmbeddingRequest, model: string): Record<string, unknown> {
  return {
    model,
    input: request.input,
    encoding_format: 'base64',
    ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions }),
    ...(request.user === undefined ? {} : { user: request.user }),
  };
}

export function decodeEmbeddingsBody(value: unknown): EmbeddingResult {
  const body = asObject(value);
  if (!body)
    throw new UpstreamError({ kind: 'protocol', retryable: true, message: 'embeddings body is not JSON' });
  const rows = asArray(body.data)
    .map((raw) => asObject(raw))
    .filter((row) => row !== undefined)
    .sort((a, b) => (asNumber(a.index) ?? 0) - (asNumber(b.index) ?? 0));
  const vectors = rows.map((row) => {
    const embedding = row.embedding;
    if (typeof embedding === 'string') return base64ToFloat32(embedding);
    return Float32Array.from(asArray(embedding).map((x) => asNumber(x) ?? 0));
  });
  const usage = asObject(body.usage);
  const promptTokens = asNumber(usage?.prompt_tokens) ?? 0;
  const result: EmbeddingResult = {
    vectors,
    usage: { promptTokens, totalTokens: asNumber(usage?.total_tokens) ?? promptTokens },
  };
  const model = asString(body.model);
  if (model) result.model = model;
  return result;
}

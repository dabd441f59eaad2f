import { endianness } from 'node:os';
import type { EmbeddingRequest, EmbeddingResult } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString } from '../../core/json.ts';
import { UpstreamError } from '../types.ts';

/** Typed arrays use the machine's byte order; the wire is little-endian. */
const BIG_ENDIAN = endianness() === 'BE';

/** Base64 of little-endian float32s, the wire form OpenAI's SDK asks for by default. */
export function float32ToBase64(vector: Float32Array): string {
  const bytes = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  return (BIG_ENDIAN ? Buffer.from(bytes).swap32() : bytes).toString('base64');
}

export function base64ToFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0) {
    throw new UpstreamError({
      kind: 'protocol',
      retryable: true,
      message: `a base64 embedding of ${bytes.byteLength} bytes is not whole float32 values`,
    });
  }
  // Copy into an aligned buffer: a Buffer's offset into its pool need not be a multiple of 4.
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new Uint8Array(out.buffer);
  view.set(bytes);
  if (BIG_ENDIAN) Buffer.from(out.buffer).swap32();
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

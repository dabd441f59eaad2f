/**
 * `POST .../embeddings` in the OpenAI dialect. Vectors come from the engine's deterministic hash
 * embedding; `encoding_format: "base64"` (what openai-node asks for by default) is little-endian
 * float32, so both encodings decode to the same numbers.
 */

import { countWords, embed } from './engine.ts';
import { sendJson } from './http.ts';
import { type ChatContext, sendNative, streamErrorAnswer } from './openai-chat.ts';
import { type ApiError, missing } from './openai-request.ts';
import type { Exchange, SimRuntime } from './server.ts';

const DEFAULT_DIMENSIONS = 8;
const MAX_DIMENSIONS = 3072;
const MAX_INPUTS = 2048;

interface ParsedEmbeddings {
  inputs: string[];
  tokens: number;
  dimensions: number;
  base64: boolean;
}

const invalid = (message: string, param: string | null, code: string | null = null): ApiError => ({
  status: 400,
  message,
  type: 'invalid_request_error',
  param,
  code,
});

const isTokenArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((t) => Number.isInteger(t));

function parse(body: unknown, model: string): ParsedEmbeddings | ApiError {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('The request body must be a JSON object.', null);
  }
  const { input, dimensions, encoding_format: format } = body as Record<string, unknown>;
  if (input === undefined || input === null) return missing('input');
  // Token-id inputs are embedded from their ids, and count one token per id.
  let items: { key: string; tokens: number }[];
  if (typeof input === 'string') items = [{ key: input, tokens: countWords(input) }];
  else if (isTokenArray(input) && input.length > 0)
    items = [{ key: `tokens:${input.join(',')}`, tokens: input.length }];
  else if (Array.isArray(input) && input.every((s) => typeof s === 'string')) {
    items = input.map((s: string) => ({ key: s, tokens: countWords(s) }));
  } else if (Array.isArray(input) && input.every(isTokenArray)) {
    items = input.map((t: number[]) => ({ key: `tokens:${t.join(',')}`, tokens: t.length }));
  } else {
    return invalid(
      "Invalid type for 'input': expected one of a string, an array of strings, an array of integers, or an array of arrays of integers.",
      'input',
      'invalid_type',
    );
  }
  if (
    items.length === 0 ||
    items.length > MAX_INPUTS ||
    items.some((i) => i.key === '' || i.key === 'tokens:')
  ) {
    return invalid(
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      null,
    );
  }
  if (dimensions !== undefined && dimensions !== null) {
    if (
      !Number.isInteger(dimensions) ||
      (dimensions as number) < 1 ||
      (dimensions as number) > MAX_DIMENSIONS
    ) {
      return invalid(
        `Invalid 'dimensions': expected an integer between 1 and ${MAX_DIMENSIONS}.`,
        'dimensions',
        'invalid_value',
      );
    }
    if (model.includes('ada-002')) return invalid('This model does not support specifying dimensions.', null);
  }
  if (format !== undefined && format !== null && format !== 'float' && format !== 'base64') {
    return invalid(
      `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      'encoding_format',
      'invalid_value',
    );
  }
  return {
    inputs: items.map((i) => i.key),
    tokens: items.reduce((n, i) => n + i.tokens, 0),
    dimensions: (dimensions as number | undefined) ?? DEFAULT_DIMENSIONS,
    base64: format === 'base64',
  };
}

/** Little-endian float32, then base64: what openai-node's `toFloat32Array` decodes. */
export function floatsToBase64(values: number[]): string {
  const buffer = Buffer.alloc(values.length * 4);
  for (const [i, v] of values.entries()) buffer.writeFloatLE(v, i * 4);
  return buffer.toString('base64');
}

export function embeddings(ex: Exchange, sim: SimRuntime, ctx: ChatContext) {
  const parsed = parse(ex.body, ctx.model);
  if ('status' in parsed) return sendJson(ex.res, parsed.status, ctx.flavour.errorBody(parsed), ctx.headers);
  // Embeddings never stream: a stream_error fault is answered as the error it stands for.
  const failed = streamErrorAnswer(ctx, 'embeddings');
  if (failed) return sendNative(ex, ctx, failed);
  sim.chargeTokens(parsed.tokens, 0);
  const data = parsed.inputs.map((key, index) => {
    const vector = embed(key, parsed.dimensions);
    return { object: 'embedding', index, embedding: parsed.base64 ? floatsToBase64(vector) : vector };
  });
  const body = {
    object: 'list',
    data,
    model: ctx.model,
    usage: { prompt_tokens: parsed.tokens, total_tokens: parsed.tokens },
  };
  sendJson(ex.res, 200, body, ctx.headers, ctx.fault?.kind === 'cut');
}

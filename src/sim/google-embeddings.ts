/**
 * Embeddings of the simulated Google clouds (Gemini API and Vertex AI reference: Embeddings), from the engine's deterministic vectors
 * (default 8 dimensions, or `outputDimensionality`):
 * - Gemini API `:embedContent` `{content, outputDimensionality?}` → `{embedding: {values}}` and
 *   `:batchEmbedContents` `{requests: [{model: "models/<m>", content, ...}]}` → `{embeddings: [{values}]}`.
 * - Vertex `:predict` `{instances: [{content}], parameters?: {outputDimensionality}}` →
 *   `{predictions: [{embeddings: {values, statistics: {token_count, truncated}}}], metadata}`, and
 *   `:embedContent` (Gemini embedding models) → `{embedding: {values}, usageMetadata, truncated}`.
 */

import { countWords, embed } from './engine.ts';
import { type GoogleError, invalidArgument, isGoogleError, unknownField } from './google-errors.ts';
import { camel } from './google-schema.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const DEFAULT_DIMENSIONS = 8;

/** The text of a Content (`{parts: [{text}]}`) or of a plain string (Vertex predict instances). */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!isObject(content) || !Array.isArray(content.parts)) return undefined;
  return content.parts
    .map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : ''))
    .filter((t) => t !== '')
    .join(' ');
}

function dimensionsOf(value: unknown): number | GoogleError {
  if (value === undefined) return DEFAULT_DIMENSIONS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3072) {
    return invalidArgument('* EmbedContentRequest.output_dimensionality: must be in the range [1, 3072].');
  }
  return value;
}

function camelKeys(value: Json): Json {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), v]));
}

const EMBED_FIELDS = new Set(['model', 'content', 'taskType', 'title', 'outputDimensionality']);

function embedOne(raw: unknown, at: string): Json | GoogleError {
  if (!isObject(raw)) return invalidArgument(`Invalid value at '${at}'`);
  const bad = Object.keys(raw).find((k) => !EMBED_FIELDS.has(camel(k)));
  if (bad) return unknownField(bad, at);
  const request = camelKeys(raw);
  const text = contentText(request.content);
  if (text === undefined || text === '')
    return invalidArgument('* EmbedContentRequest.content: contents must not be empty');
  const dimensions = dimensionsOf(request.outputDimensionality);
  if (typeof dimensions !== 'number') return dimensions;
  return { values: embed(text, dimensions) };
}

/** Gemini API `:embedContent` and `:batchEmbedContents`. */
export function geminiEmbeddings(method: string, body: unknown, model: string): Json | GoogleError {
  if (!isObject(body)) return invalidArgument('Invalid JSON payload received. Expected an object.');
  if (method === 'embedContent') {
    const one = embedOne(body, '');
    return isGoogleError(one) ? one : { embedding: one };
  }
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    return invalidArgument('* BatchEmbedContentsRequest.requests: requests must not be empty');
  }
  const embeddings: Json[] = [];
  for (const [i, raw] of requests.entries()) {
    const inner = isObject(raw) ? camelKeys(raw) : {};
    if (inner.model !== `models/${model}`) {
      return invalidArgument(
        `* BatchEmbedContentsRequest.requests[${i}].model: the model of each request must match the batch model models/${model}`,
      );
    }
    const one = embedOne(raw, `requests[${i}]`);
    if (isGoogleError(one)) return one;
    embeddings.push(one);
  }
  return { embeddings };
}

/** Vertex `:predict` (text-embedding models) and `:embedContent` (Gemini embedding models). */
export function vertexEmbeddings(method: string, body: unknown): Json | GoogleError {
  if (!isObject(body)) return invalidArgument('Invalid JSON payload received. Expected an object.');
  if (method === 'embedContent') {
    const b = camelKeys(body);
    const config = isObject(b.embedContentConfig) ? camelKeys(b.embedContentConfig) : {};
    const text = contentText(b.content);
    if (!text) return invalidArgument('* EmbedContentRequest.content: contents must not be empty');
    const dimensions = dimensionsOf(config.outputDimensionality);
    if (typeof dimensions !== 'number') return dimensions;
    const tokens = countWords(text);
    return {
      embedding: { values: embed(text, dimensions) },
      usageMetadata: { promptTokenCount: tokens, totalTokenCount: tokens },
      truncated: false,
    };
  }
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) {
    return invalidArgument('Invalid request: instances must not be empty.');
  }
  const parameters = isObject(body.parameters) ? camelKeys(body.parameters) : {};
  const dimensions = dimensionsOf(parameters.outputDimensionality);
  if (typeof dimensions !== 'number') return dimensions;
  const predictions: Json[] = [];
  let characters = 0;
  for (const raw of instances) {
    const text = isObject(raw) ? contentText(raw.content) : undefined;
    if (text === undefined)
      return invalidArgument('Invalid request: each instance needs a "content" string.');
    characters += text.replace(/\s/g, '').length;
    predictions.push({
      embeddings: {
        values: embed(text, dimensions),
        statistics: { token_count: countWords(text), truncated: false },
      },
    });
  }
  return { predictions, metadata: { billableCharacterCount: characters } };
}

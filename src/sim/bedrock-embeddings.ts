/**
 * InvokeModel for embedding models (AWS Bedrock API reference: InvokeModel / InvokeModelWithResponseStream (native bodies)), in each vendor's native body: Titan text
 * embeddings (`{inputText, dimensions?, normalize?}` → `{embedding, inputTextTokenCount}`, one input
 * per call) and Cohere (`{texts, input_type}` → `{embeddings: [[...]]}`). Vectors come from the
 * engine's deterministic hash embedding. Bad bodies get Bedrock's "Malformed input request" 400s.
 */

import { createHash } from 'node:crypto';
import { countWords, embed } from './engine.ts';

export type InvokeResult =
  | { ok: true; body: Record<string, unknown>; inputTokens: number }
  | { ok: false; message: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const malformed = (detail: string): InvokeResult => ({
  ok: false,
  message: `Malformed input request: ${detail}, please reformat your input and try again.`,
});

const TITAN_V2_DIMENSIONS = [256, 512, 1024];
const COHERE_INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'];
const COHERE_DIMENSIONS = 1024;
const COHERE_MAX_TEXTS = 96;

function extraneous(body: Json, allowed: readonly string[]): InvokeResult | undefined {
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  return extra === undefined ? undefined : malformed(`extraneous key [${extra}] is not permitted`);
}

function titan(body: Json, modelId: string): InvokeResult {
  const v1 = modelId.includes('titan-embed-text-v1');
  const bad = extraneous(
    body,
    v1 ? ['inputText'] : ['inputText', 'dimensions', 'normalize', 'embeddingTypes'],
  );
  if (bad) return bad;
  const { inputText, dimensions } = body;
  if (typeof inputText !== 'string') return malformed('#: required key [inputText] not found');
  if (inputText === '') return malformed('#/inputText: expected minLength: 1, actual: 0');
  if (dimensions !== undefined && !TITAN_V2_DIMENSIONS.includes(dimensions as number)) {
    return malformed(`#/dimensions: ${String(dimensions)} is not a valid enum value`);
  }
  const tokens = countWords(inputText);
  const size = v1 ? 1536 : ((dimensions as number | undefined) ?? 1024);
  return {
    ok: true,
    body: { embedding: embed(inputText, size), inputTextTokenCount: tokens },
    inputTokens: tokens,
  };
}

function cohere(body: Json): InvokeResult {
  const bad = extraneous(body, ['texts', 'input_type', 'truncate', 'embedding_types']);
  if (bad) return bad;
  const { texts, input_type: inputType } = body;
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string'))
    return malformed('#: required key [texts] not found');
  if (texts.length === 0 || texts.length > COHERE_MAX_TEXTS) {
    return malformed(`#/texts: expected between 1 and ${COHERE_MAX_TEXTS} items, actual: ${texts.length}`);
  }
  if (typeof inputType !== 'string' || !COHERE_INPUT_TYPES.includes(inputType)) {
    return malformed(`#/input_type: ${String(inputType)} is not a valid enum value`);
  }
  const strings = texts as string[];
  const id = createHash('sha256').update(strings.join('\u0000')).digest('hex').slice(0, 36);
  return {
    ok: true,
    body: {
      id,
      embeddings: strings.map((t) => embed(t, COHERE_DIMENSIONS)),
      response_type: 'embeddings_floats',
      texts: strings,
    },
    inputTokens: strings.reduce((n, t) => n + countWords(t), 0),
  };
}

/** An InvokeModel body for an embedding model → the native answer, or the 400's message. */
export function invokeEmbeddings(modelId: string, body: unknown): InvokeResult {
  if (!isObject(body)) return malformed('expected a JSON object');
  if (/titan-embed-/.test(modelId)) return titan(body, modelId);
  if (/cohere\.embed-/.test(modelId)) return cohere(body);
  return {
    ok: false,
    message: `The simulated Bedrock serves InvokeModel for Titan and Cohere embedding models only, not ${modelId}.`,
  };
}

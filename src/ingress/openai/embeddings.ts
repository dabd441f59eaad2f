import { z } from 'zod';
import type { EmbeddingRequest } from '../../core/chat.ts';
import { invalidRequest } from '../../core/errors.ts';
import { issuesToError } from './issues.ts';

/** OpenAI's own limit on inputs per request, and the default of `server.maxEmbeddingInputs`. */
export const OPENAI_MAX_EMBEDDING_INPUTS = 2048;

const embeddingBodySchema = z.strictObject({
  model: z.string().min(1, 'must not be empty'),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1, 'must not be empty'),
    z.array(z.number().int()).min(1, 'must not be empty'),
    z.array(z.array(z.number().int()).min(1, 'must not be empty')).min(1, 'must not be empty'),
  ]),
  dimensions: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
  user: z.string().optional(),
});

/**
 * Validates an OpenAI embeddings body; OpenAI's SDK asks for base64 unless told otherwise.
 * `maxInputs` is `server.maxEmbeddingInputs`: each input may cost the gateway an upstream call.
 */
export function parseEmbeddingBody(json: unknown, maxInputs = OPENAI_MAX_EMBEDDING_INPUTS): EmbeddingRequest {
  const parsed = embeddingBodySchema.safeParse(json, { reportInput: true });
  if (!parsed.success) throw issuesToError(parsed.error.issues);
  const body = parsed.data;
  let input: string[] | number[][];
  if (typeof body.input === 'string') input = [body.input];
  else if (body.input.length > 0 && typeof body.input[0] === 'number') input = [body.input as number[]];
  else input = body.input as string[] | number[][];
  if (input.length > maxInputs)
    throw invalidRequest('input', `at most ${maxInputs} inputs per request (server.maxEmbeddingInputs)`);
  for (const [i, item] of input.entries()) {
    if (typeof item === 'string' && item === '') {
      throw issuesToError([
        { code: 'custom', path: ['input', i], message: 'must not be an empty string', input: item },
      ]);
    }
  }
  return {
    model: body.model,
    input,
    encodingFormat: body.encoding_format ?? 'float',
    ...(body.dimensions === undefined ? {} : { dimensions: body.dimensions }),
    ...(body.user === undefined ? {} : { user: body.user }),
  };
}

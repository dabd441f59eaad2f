import type { ChatRequest } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';

/** What a cloud can do with the OpenAI-only parameters; anything not listed is refused when it matters. */
export interface OpenAIParamSupport {
  n?: boolean;
  logprobs?: boolean;
  penalties?: boolean;
  logitBias?: boolean;
}

/**
 * Passthrough fields a non-OpenAI cloud can drop without changing what the answer means
 * (bookkeeping, caching hints, OpenAI-side storage). Every other passthrough field is refused.
 */
const HARMLESS_PASSTHROUGH = new Set([
  'metadata',
  'store',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'service_tier',
  'prediction',
  'verbosity',
]);

/**
 * Refuses, with a 400 naming the parameter and the cloud, every OpenAI parameter the cloud cannot
 * honour and that would change the answer's meaning. Neutral values (n: 1, logprobs: false,
 * penalties 0) are not refused: many clients send them by default.
 */
export function refuseUnsupported(
  request: ChatRequest,
  cloud: string,
  support: OpenAIParamSupport,
  handled: readonly string[] = [],
): void {
  const o = request.openai;
  if (o.n !== undefined && o.n > 1 && !support.n)
    throw unsupportedParameter('n', cloud, 'only one choice per request');
  if (o.logprobs === true && !support.logprobs)
    throw unsupportedParameter('logprobs', cloud, 'no token log-probabilities');
  if (o.topLogprobs !== undefined && o.topLogprobs > 0 && !support.logprobs) {
    throw unsupportedParameter('top_logprobs', cloud, 'no token log-probabilities');
  }
  if (!support.penalties) {
    if (o.frequencyPenalty) throw unsupportedParameter('frequency_penalty', cloud, 'no frequency penalty');
    if (o.presencePenalty) throw unsupportedParameter('presence_penalty', cloud, 'no presence penalty');
  }
  if (o.logitBias && Object.keys(o.logitBias).length > 0 && !support.logitBias) {
    throw unsupportedParameter('logit_bias', cloud, 'no logit bias');
  }
  for (const [field, value] of Object.entries(o.passthrough)) {
    if (HARMLESS_PASSTHROUGH.has(field) || handled.includes(field)) continue;
    if (field === 'modalities' && Array.isArray(value) && value.every((m) => m === 'text')) continue;
    throw unsupportedParameter(field, cloud, 'an OpenAI-only parameter');
  }
}

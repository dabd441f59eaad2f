/**
 * OpenAI's remaining-capacity headers (OpenAI API reference: Transport), also sent by Azure OpenAI (without the reset
 * pair, Azure OpenAI documentation: Rate limiting (standard deployments)) and by OpenAI-compatible servers that copy them: `x-ratelimit-limit-*`,
 * `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` for `requests` and `tokens`, resets as Go
 * durations from now.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { CapacitySignal } from '../../core/upstream.ts';
import { compact, headerValue, parseCount, parseGoDuration } from '../shared/capacity.ts';

const REMAINING_REQUESTS = 'x-ratelimit-remaining-requests';
const REMAINING_TOKENS = 'x-ratelimit-remaining-tokens';

/**
 * Runs on every answer, so the common cases are cheap: no remaining count, nothing to read; the
 * resets and limits are parsed only when a remaining count is there.
 */
export function readOpenAICapacity(headers: IncomingHttpHeaders, nowMs: number): CapacitySignal | undefined {
  const remainingRequests = parseCount(headerValue(headers, REMAINING_REQUESTS));
  const remainingTokens = parseCount(headerValue(headers, REMAINING_TOKENS));
  if (remainingRequests === undefined && remainingTokens === undefined) return undefined;
  const resetAt = (name: string) => {
    const ms = parseGoDuration(headerValue(headers, name));
    return ms === undefined ? undefined : nowMs + ms;
  };
  return compact<CapacitySignal>({
    remainingRequests,
    remainingTokens,
    requestsResetAtMs: resetAt('x-ratelimit-reset-requests'),
    tokensResetAtMs: resetAt('x-ratelimit-reset-tokens'),
    limitRequests: parseCount(headerValue(headers, 'x-ratelimit-limit-requests')),
    limitTokens: parseCount(headerValue(headers, 'x-ratelimit-limit-tokens')),
  });
}

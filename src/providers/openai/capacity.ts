/**
 * OpenAI's remaining-capacity headers (OpenAI API reference: Transport), also sent by Azure OpenAI (without the reset
 * pair, Azure OpenAI documentation: Rate limiting (standard deployments)) and by OpenAI-compatible servers that copy them: `x-ratelimit-limit-*`,
 * `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` for `requests` and `tokens`, resets as Go
 * durations from now.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { CapacitySignal } from '../../core/upstream.ts';
import { compact, headerValue, parseCount, parseGoDuration } from '../shared/capacity.ts';

export function readOpenAICapacity(headers: IncomingHttpHeaders, nowMs: number): CapacitySignal | undefined {
  const read = (name: string) => headerValue(headers, `x-ratelimit-${name}`);
  const resetAt = (name: string) => {
    const ms = parseGoDuration(read(name));
    return ms === undefined ? undefined : nowMs + ms;
  };
  return compact<CapacitySignal>({
    remainingRequests: parseCount(read('remaining-requests')),
    remainingTokens: parseCount(read('remaining-tokens')),
    requestsResetAtMs: resetAt('reset-requests'),
    tokensResetAtMs: resetAt('reset-tokens'),
    limitRequests: parseCount(read('limit-requests')),
    limitTokens: parseCount(read('limit-tokens')),
  });
}

/**
 * Anthropic's remaining-capacity headers (Anthropic API reference: Transport): `anthropic-ratelimit-{requests|tokens|
 * input-tokens|output-tokens}-{limit|remaining|reset}`, resets as RFC 3339 times. The `tokens-*`
 * trio already shows the most restrictive token limit in effect; without it, the input or output
 * trio with less remaining stands for it.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { CapacitySignal } from '../../core/upstream.ts';
import { compact, headerValue, parseCount, parseRfc3339 } from '../shared/capacity.ts';

interface Trio {
  limit?: number | undefined;
  remaining?: number | undefined;
  resetAtMs?: number | undefined;
}

function trio(headers: IncomingHttpHeaders, kind: string): Trio {
  const read = (field: string) => headerValue(headers, `anthropic-ratelimit-${kind}-${field}`);
  return {
    limit: parseCount(read('limit')),
    remaining: parseCount(read('remaining')),
    resetAtMs: parseRfc3339(read('reset')),
  };
}

function tokenTrio(headers: IncomingHttpHeaders): Trio {
  const combined = trio(headers, 'tokens');
  if (combined.remaining !== undefined) return combined;
  const sides = [trio(headers, 'input-tokens'), trio(headers, 'output-tokens')].filter(
    (t) => t.remaining !== undefined,
  );
  sides.sort((a, b) => (a.remaining ?? 0) - (b.remaining ?? 0));
  return sides[0] ?? combined;
}

/** `nowMs` is unused: Anthropic's resets are absolute times already. */
export function readAnthropicCapacity(
  headers: IncomingHttpHeaders,
  _nowMs: number,
): CapacitySignal | undefined {
  const requests = trio(headers, 'requests');
  const tokens = tokenTrio(headers);
  return compact<CapacitySignal>({
    remainingRequests: requests.remaining,
    remainingTokens: tokens.remaining,
    requestsResetAtMs: requests.resetAtMs,
    tokensResetAtMs: tokens.resetAtMs,
    limitRequests: requests.limit,
    limitTokens: tokens.limit,
  });
}

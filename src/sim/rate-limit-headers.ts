/**
 * The `rateLimit` knob's window in each cloud's own capacity headers. OpenAI: `x-ratelimit-limit-*`,
 * `-remaining-*` and `-reset-*` for requests and tokens, resets as Go durations (`1s`, `6m0s`,
 * `20ms`). Azure: the same without the reset pair. Anthropic: `anthropic-ratelimit-{requests|tokens|
 * input-tokens|output-tokens}-{limit|remaining|reset}`, resets as RFC 3339 times. Bedrock, Gemini,
 * Vertex and vLLM send none. A limit the knob leaves unset keeps the cloud's usual static values.
 */

import type { Headers } from './http.ts';
import type { Allowance, RateSnapshot } from './rate-limit.ts';

/** Milliseconds as Go prints a duration: `0s`, `20ms`, `1.5s`, `6m0s`, `1h2m3.5s`. */
export function formatGoDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  if (whole === 0) return '0s';
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor((whole % 3_600_000) / 60_000);
  const seconds = `${(whole % 60_000) / 1000}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** An RFC 3339 time in whole seconds, rounded up so the allowance is whole by then. */
export function rfc3339After(nowMs: number, ms: number): string {
  const at = Math.ceil((nowMs + ms) / 1000) * 1000;
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function openaiTrio(out: Headers, name: string, allowance: Allowance | undefined, resets: boolean): void {
  if (!allowance) return;
  out[`x-ratelimit-limit-${name}`] = String(allowance.limit);
  out[`x-ratelimit-remaining-${name}`] = String(allowance.remaining);
  if (resets) out[`x-ratelimit-reset-${name}`] = formatGoDuration(allowance.resetMs);
}

/** OpenAI's headers (`resets: true`) or Azure's (`resets: false`), over the cloud's static ones. */
export function openaiRateLimitHeaders(
  base: Headers,
  snapshot: RateSnapshot | undefined,
  resets: boolean,
): Headers {
  if (!snapshot) return base;
  const out = { ...base };
  openaiTrio(out, 'requests', snapshot.requests, resets);
  openaiTrio(out, 'tokens', snapshot.tokens, resets);
  return out;
}

function anthropicTrio(out: Headers, name: string, allowance: Allowance | undefined, nowMs: number): void {
  if (!allowance) return;
  out[`anthropic-ratelimit-${name}-limit`] = String(allowance.limit);
  out[`anthropic-ratelimit-${name}-remaining`] = String(allowance.remaining);
  out[`anthropic-ratelimit-${name}-reset`] = rfc3339After(nowMs, allowance.resetMs);
}

/** Anthropic's headers over its static ones; the input and output trios only with a token limit. */
export function anthropicRateLimitHeaders(base: Headers, snapshot: RateSnapshot | undefined): Headers {
  if (!snapshot) return base;
  const out = { ...base };
  anthropicTrio(out, 'requests', snapshot.requests, snapshot.nowMs);
  anthropicTrio(out, 'tokens', snapshot.tokens, snapshot.nowMs);
  anthropicTrio(out, 'input-tokens', snapshot.inputTokens, snapshot.nowMs);
  anthropicTrio(out, 'output-tokens', snapshot.outputTokens, snapshot.nowMs);
  return out;
}

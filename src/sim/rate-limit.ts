/**
 * The `rateLimit` knob: a simulated cloud that counts its own traffic over a rolling minute, tells
 * every answer how much is left (each cloud in its own headers, see openai.ts, azure.ts and
 * anthropic.ts) and answers its native 429 once a limit is spent. Requests are counted when they
 * are admitted; tokens (prompt + completion, embedding inputs) once the engine has decided the
 * answer. Nothing is recorded while no limit is set, so the benchmark pays nothing for it.
 */

import { z } from 'zod';

export const rateLimitSchema = z
  .object({
    requestsPerMinute: z.number().int().positive().optional(),
    tokensPerMinute: z.number().int().positive().optional(),
  })
  .strict();

export type RateLimitKnob = z.infer<typeof rateLimitSchema>;

export const WINDOW_MS = 60_000;

/** How much of one limit is left, as of one moment. */
export interface Allowance {
  limit: number;
  remaining: number;
  /** Until the window holds none of this traffic: the allowance is whole again. */
  resetMs: number;
}

/** The window as of one moment; a field is absent when its limit is not set. */
export interface RateSnapshot {
  nowMs: number;
  requests?: Allowance;
  /** Input and output together. */
  tokens?: Allowance;
  /** Anthropic counts input and output tokens against separate limits too (both `tokensPerMinute` here). */
  inputTokens?: Allowance;
  outputTokens?: Allowance;
}

export interface Admission {
  /** Undefined while no limit is set: the cloud sends its usual headers. */
  snapshot: RateSnapshot | undefined;
  /** Set when a limit is spent: answer the cloud's 429, retry after this long. */
  throttled?: { limit: 'requests' | 'tokens'; perMinute: number; retryAfterMs: number };
}

interface Entry {
  atMs: number;
  requests: number;
  input: number;
  output: number;
}

type Count = (e: Entry) => number;
const REQUESTS: Count = (e) => e.requests;
const TOKENS: Count = (e) => e.input + e.output;
const INPUT: Count = (e) => e.input;
const OUTPUT: Count = (e) => e.output;

export class RateWindow {
  readonly #knob: () => RateLimitKnob | undefined;
  #entries: Entry[] = [];

  /** `knob` is read on every call, so the knobs API can change limits at run time. */
  constructor(knob: () => RateLimitKnob | undefined) {
    this.#knob = knob;
  }

  #prune(nowMs: number): void {
    const first = this.#entries.findIndex((e) => e.atMs > nowMs - WINDOW_MS);
    this.#entries = first === -1 ? [] : this.#entries.slice(first);
  }

  #allowance(limit: number, count: Count, nowMs: number): Allowance {
    let used = 0;
    let lastAt: number | undefined;
    for (const entry of this.#entries) {
      const n = count(entry);
      if (n > 0) {
        used += n;
        lastAt = entry.atMs;
      }
    }
    return {
      limit,
      remaining: Math.max(0, limit - used),
      resetMs: lastAt === undefined ? 0 : Math.max(0, lastAt + WINDOW_MS - nowMs),
    };
  }

  /** How long until the oldest counted traffic of this kind leaves the window. */
  #firstFreeMs(count: Count, nowMs: number): number {
    const oldest = this.#entries.find((e) => count(e) > 0);
    return oldest === undefined ? 1 : Math.max(1, oldest.atMs + WINDOW_MS - nowMs);
  }

  snapshot(nowMs: number): RateSnapshot | undefined {
    const knob = this.#knob();
    if (!knob || (knob.requestsPerMinute === undefined && knob.tokensPerMinute === undefined)) {
      this.#entries = [];
      return undefined;
    }
    this.#prune(nowMs);
    const snapshot: RateSnapshot = { nowMs };
    if (knob.requestsPerMinute !== undefined) {
      snapshot.requests = this.#allowance(knob.requestsPerMinute, REQUESTS, nowMs);
    }
    if (knob.tokensPerMinute !== undefined) {
      snapshot.tokens = this.#allowance(knob.tokensPerMinute, TOKENS, nowMs);
      snapshot.inputTokens = this.#allowance(knob.tokensPerMinute, INPUT, nowMs);
      snapshot.outputTokens = this.#allowance(knob.tokensPerMinute, OUTPUT, nowMs);
    }
    return snapshot;
  }

  /** Counts one inference request unless a limit is spent; a refused request is not counted. */
  admit(nowMs: number): Admission {
    const before = this.snapshot(nowMs);
    if (!before) return { snapshot: undefined };
    const { requests, tokens } = before;
    if (requests?.remaining === 0) {
      const retryAfterMs = this.#firstFreeMs(REQUESTS, nowMs);
      return { snapshot: before, throttled: { limit: 'requests', perMinute: requests.limit, retryAfterMs } };
    }
    if (tokens?.remaining === 0) {
      const retryAfterMs = this.#firstFreeMs(TOKENS, nowMs);
      return { snapshot: before, throttled: { limit: 'tokens', perMinute: tokens.limit, retryAfterMs } };
    }
    this.#entries.push({ atMs: nowMs, requests: 1, input: 0, output: 0 });
    return { snapshot: this.snapshot(nowMs) };
  }

  /** Tokens an admitted request used, once its answer is decided. */
  charge(input: number, output: number, nowMs: number): void {
    if (!this.#knob() || input + output <= 0) return;
    this.#entries.push({ atMs: nowMs, requests: 0, input, output });
  }
}

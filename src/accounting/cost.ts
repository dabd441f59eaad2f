/**
 * What a request costs, from the tokens the cloud reported and a price (USD per million tokens); and
 * the upper bound a hard budget admits a request against before it runs.
 */
import type { Usage } from '../core/chat.ts';
import type { Price } from './prices.ts';

/**
 * Costs are kept to a billionth of a dollar: fine enough that a one-token request on the cheapest
 * model (a few nano-dollars) is not rounded to 0, coarse enough to hide float noise in sums.
 * Prices are per million tokens, so tokens × price is in micro-dollars and ×1000 in nano-dollars.
 */
const NANO_USD_PER_TOKEN_PRICE_UNIT = 1000;
const NANO_USD_PER_USD = 1e9;
/**
 * Below any real fraction of a nano-dollar (with prices of up to six decimals per million tokens, a
 * real fraction is a multiple of 0.001 nano-USD), above the float error of everyday sums. Error on a
 * huge sum can exceed it; the bound is then one nano-dollar high, which still bounds.
 */
const FLOAT_NOISE_NANO_USD = 1e-6;

/**
 * The cost in USD of a request's usage. `promptTokens` includes `cachedTokens` and `cacheWriteTokens`
 * (both subsets of it): the rest of the prompt is charged at `input`, cache reads at `cachedInput`,
 * cache writes at `cacheWrite` (each defaulting to `input` when the price has none), and all
 * completion tokens, reasoning included, at `output`. Rounded to 1e-9 USD.
 *
 * A cloud that reports more cached and written tokens than prompt tokens is believed about the
 * cache: those tokens are charged at their cache prices and no uncached input remains.
 */
export function costOfUsage(usage: Usage, price: Price): number {
  const prompt = tokenCount(usage.promptTokens, 'usage.promptTokens');
  const completion = tokenCount(usage.completionTokens, 'usage.completionTokens');
  const cached = tokenCount(usage.cachedTokens ?? 0, 'usage.cachedTokens');
  const written = tokenCount(usage.cacheWriteTokens ?? 0, 'usage.cacheWriteTokens');
  const rates = checkedRates(price);
  const uncached = Math.max(0, prompt - cached - written);
  const microUsd =
    uncached * rates.input +
    cached * rates.cachedInput +
    written * rates.cacheWrite +
    completion * rates.output;
  return Math.round(microUsd * NANO_USD_PER_TOKEN_PRICE_UNIT) / NANO_USD_PER_USD;
}

/**
 * The most a request can cost before it runs, for admitting it against a hard budget: every input
 * token at the dearest rate an input token can be billed at, and every possible output token at
 * `output`. The dearest input rate is usually `input`, but a cache write (Anthropic: 1.25x input)
 * can cost more, and a bound that ignored it could be overtaken by the real cost. Rounded up to
 * 1e-9 USD so that rounding never makes the bound smaller than the cost it bounds.
 *
 * Not covered: long-prompt tiers (the catalog holds base-tier prices; see price-catalog.ts), and
 * non-text input such as images, which the caller must add.
 */
export function maxCostOfRequest(
  price: Price,
  estimatedInputTokens: number,
  maxOutputTokens: number,
): number {
  const input = tokenCount(estimatedInputTokens, 'estimatedInputTokens');
  const output = tokenCount(maxOutputTokens, 'maxOutputTokens');
  const rates = checkedRates(price);
  const dearestInputRate = Math.max(rates.input, rates.cachedInput, rates.cacheWrite);
  const nanoUsd = (input * dearestInputRate + output * rates.output) * NANO_USD_PER_TOKEN_PRICE_UNIT;
  // Float noise (3 × 1.1 = 3.3000000000000003) is not a fraction of a nano-dollar to round up.
  const nearest = Math.round(nanoUsd);
  const upper = Math.abs(nanoUsd - nearest) < FLOAT_NOISE_NANO_USD ? nearest : Math.ceil(nanoUsd);
  return upper / NANO_USD_PER_USD;
}

/**
 * An upper bound on the input tokens of a request whose text is `bytesOfText` bytes of UTF-8 (the
 * contract counts hard-budget input as at most one token per byte). It holds because every tokenizer
 * the supported clouds use (byte-level BPE for OpenAI and Claude models, SentencePiece with byte
 * fallback for Gemini and Llama) emits tokens that each stand for at least one byte of the text, so
 * n bytes never make more than n tokens.
 *
 * What the bound does not see, so the caller must: the tokens a cloud adds around the text (role
 * markers, tool-schema framing) are not in the text, which is why the bytes counted should be those
 * of the whole request body as received, whose JSON syntax outweighs that framing; images, audio and
 * files are billed by their own rules; and a tokenizer that applies Unicode compatibility
 * normalisation could expand a few rare characters (such as U+FDFA) into more tokens than bytes.
 */
export function estimateInputTokens(bytesOfText: number): number {
  return tokenCount(bytesOfText, 'bytesOfText');
}

interface Rates {
  input: number;
  output: number;
  cachedInput: number;
  cacheWrite: number;
}

function checkedRates(price: Price): Rates {
  const input = rate(price.input, 'price.input');
  return {
    input,
    output: rate(price.output, 'price.output'),
    cachedInput: price.cachedInput === undefined ? input : rate(price.cachedInput, 'price.cachedInput'),
    cacheWrite: price.cacheWrite === undefined ? input : rate(price.cacheWrite, 'price.cacheWrite'),
  };
}

function tokenCount(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${field} must be a non-negative integer number of tokens, got ${value}`);
  }
  return value;
}

function rate(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${field} must be a non-negative number of USD per million tokens, got ${value}`);
  }
  return value;
}

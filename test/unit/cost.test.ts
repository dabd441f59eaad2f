/** Cost arithmetic: real usage at a price, the hard-budget upper bound, and the input-token estimate. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costOfUsage, estimateInputTokens, maxCostOfRequest } from '../../src/accounting/cost.ts';
import { lookupPrice, type Price } from '../../src/accounting/prices.ts';
import type { Usage } from '../../src/core/chat.ts';

const GPT5: Price = { input: 1.25, cachedInput: 0.125, output: 10 };
const SONNET: Price = { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 };

function usage(promptTokens: number, completionTokens: number, extra: Partial<Usage> = {}): Usage {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, ...extra };
}

describe('costOfUsage', () => {
  it('charges input and output per million tokens', () => {
    // 1000 × 1.25 + 500 × 10 = 6250 micro-dollars.
    assert.equal(costOfUsage(usage(1000, 500), GPT5), 0.00625);
  });

  it('charges cached prompt tokens (a subset of the prompt) at the cached price', () => {
    // 200 × 1.25 + 800 × 0.125 + 500 × 10 = 250 + 100 + 5000.
    assert.equal(costOfUsage(usage(1000, 500, { cachedTokens: 800 }), GPT5), 0.00535);
  });

  it('charges cache writes at the cache-write price, apart from cache reads and uncached input', () => {
    // 2000 × 3 + 6000 × 0.3 + 2000 × 3.75 + 1000 × 15 = 6000 + 1800 + 7500 + 15000.
    const u = usage(10_000, 1000, { cachedTokens: 6000, cacheWriteTokens: 2000 });
    assert.equal(costOfUsage(u, SONNET), 0.0303);
  });

  it('charges cache reads and writes at the input price when the price has none for them', () => {
    const u = usage(1000, 0, { cachedTokens: 300, cacheWriteTokens: 200 });
    assert.equal(costOfUsage(u, { input: 2, output: 8 }), 0.002);
  });

  it('charges reasoning tokens as the output they are part of, not on top', () => {
    const withReasoning = costOfUsage(usage(100, 500, { reasoningTokens: 400 }), GPT5);
    assert.equal(withReasoning, costOfUsage(usage(100, 500), GPT5));
    assert.equal(withReasoning, 0.005125);
  });

  it('believes the cache when a cloud reports more cached and written tokens than prompt tokens', () => {
    const u = usage(100, 0, { cachedTokens: 80, cacheWriteTokens: 40 });
    // No uncached input left: 80 × 0.3 + 40 × 3.75 = 24 + 150 micro-dollars.
    assert.equal(costOfUsage(u, SONNET), 0.000174);
  });

  it('is 0 for no tokens and for a free model, never negative', () => {
    assert.equal(costOfUsage(usage(0, 0), GPT5), 0);
    assert.equal(costOfUsage(usage(1000, 1000), { input: 0, output: 0 }), 0);
  });

  it('rounds to a billionth of a dollar without losing one-token costs', () => {
    assert.equal(costOfUsage(usage(1, 0), { input: 0.02, output: 0 }), 2e-8);
    // 3 × 1.1 is 3.3000000000000003 in floating point; the cost is exactly 3.3 micro-dollars.
    assert.equal(costOfUsage(usage(3, 0), { input: 1.1, output: 0 }), 3.3e-6);
    const cost = costOfUsage(usage(123_457, 98_765, { cachedTokens: 54_321 }), GPT5);
    assert.equal(Math.round(cost * 1e9) / 1e9, cost);
  });

  it('prices a real lookup end to end (Azure deployment name, reported snapshot)', () => {
    const price = lookupPrice('azure-openai', ['gpt-5-prod', 'gpt-5-2025-08-07']);
    assert.ok(price);
    assert.equal(costOfUsage(usage(1000, 500, { cachedTokens: 800 }), price), 0.00535);
  });

  it('rejects impossible usage and prices, naming the field', () => {
    assert.throws(
      () => costOfUsage(usage(-1, 0), GPT5),
      /usage\.promptTokens must be a non-negative integer/,
    );
    assert.throws(() => costOfUsage(usage(10, 1.5), GPT5), /usage\.completionTokens/);
    assert.throws(() => costOfUsage(usage(10, 0, { cachedTokens: Number.NaN }), GPT5), /usage\.cachedTokens/);
    assert.throws(() => costOfUsage(usage(10, 0, { cacheWriteTokens: -2 }), GPT5), /usage\.cacheWriteTokens/);
    assert.throws(() => costOfUsage(usage(10, 0), { input: Number.NaN, output: 1 }), /price\.input must be/);
    assert.throws(() => costOfUsage(usage(10, 0), { input: 1, output: -1 }), /price\.output/);
    assert.throws(
      () => costOfUsage(usage(10, 0), { input: 1, output: 1, cacheWrite: -1 }),
      /price\.cacheWrite/,
    );
  });
});

describe('maxCostOfRequest', () => {
  it('charges every input token at the input price and every possible output token at the output price', () => {
    assert.equal(maxCostOfRequest(GPT5, 1000, 500), 0.00625);
  });

  it('uses the cache-write price when it is dearer than input, so a cache write cannot overtake the bound', () => {
    assert.equal(maxCostOfRequest(SONNET, 1000, 0), 0.00375);
    assert.equal(
      costOfUsage(usage(1000, 0, { cacheWriteTokens: 1000 }), SONNET),
      maxCostOfRequest(SONNET, 1000, 0),
    );
  });

  it('is never below the real cost of any usage within the same token counts', () => {
    const splits: ReadonlyArray<Partial<Usage>> = [
      {},
      { cachedTokens: 900 },
      { cacheWriteTokens: 900 },
      { cachedTokens: 300, cacheWriteTokens: 600 },
    ];
    for (const price of [GPT5, SONNET, { input: 0.0825, output: 0.33 }]) {
      for (const extra of splits) {
        for (const completion of [0, 1, 777]) {
          const real = costOfUsage(usage(1000, completion, extra), price);
          const bound = maxCostOfRequest(price, 1000, 777);
          assert.ok(real <= bound, `${JSON.stringify({ price, extra, completion })}: ${real} > ${bound}`);
        }
      }
    }
  });

  it('rounds fractions of a nano-dollar up, but not float noise', () => {
    assert.equal(maxCostOfRequest({ input: 0.0001, output: 0 }, 1, 0), 1e-9);
    assert.equal(maxCostOfRequest({ input: 1.1, output: 0 }, 3, 0), 3.3e-6);
  });

  it('rejects impossible token counts, naming the argument', () => {
    assert.throws(() => maxCostOfRequest(GPT5, -1, 0), /estimatedInputTokens must be a non-negative integer/);
    assert.throws(() => maxCostOfRequest(GPT5, 10, Number.POSITIVE_INFINITY), /maxOutputTokens/);
  });
});

describe('estimateInputTokens', () => {
  it('counts one token per byte of UTF-8 text', () => {
    assert.equal(estimateInputTokens(Buffer.byteLength('hello')), 5);
    assert.equal(estimateInputTokens(Buffer.byteLength('héllo wörld 🚀')), 18);
    assert.equal(estimateInputTokens(0), 0);
  });

  it('rejects a byte count that is not a non-negative integer', () => {
    assert.throws(() => estimateInputTokens(-1), /bytesOfText must be a non-negative integer/);
    assert.throws(() => estimateInputTokens(2.5), /bytesOfText/);
  });
});

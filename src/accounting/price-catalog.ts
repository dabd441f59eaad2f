/**
 * The built-in price catalog: USD per million tokens for the current models of every cloud
 * Switchyard speaks. Data only, so that it ships in the build as a plain module.
 *
 * How prices are chosen (src/accounting/prices.ts): a deployment's own `price:` wins outright;
 * otherwise its model id, then the model the cloud reported, is looked up in its cloud's list
 * after normalisation (Bedrock geography prefixes and `:0`/`-v1` suffixes, ARNs, dated snapshots,
 * Vertex resource names and `@version`). A model that is not here has no price: its requests are
 * recorded with cost null, never 0. Self-hosted `openai-compatible` servers have no list.
 *
 * What is modelled: standard (on-demand, pay-as-you-go) rates for text tokens. Not modelled:
 * batch/flex discounts, priority tiers, provisioned capacity, audio/image token rates, and the
 * long-prompt tiers some models have; each entry carries the BASE tier and a comment names the
 * tier it leaves out. A deployment billed otherwise (a regional Azure deployment, a negotiated
 * rate, long prompts) should set `price:`.
 *
 * How to update:
 * 1. Read the cloud's `source` page; change the numbers that moved, add the new models (canonical
 *    id: lower case, no dates, no `:0`, no geography prefix), drop none that are still billable.
 * 2. Set the cloud's `asOf` to the day you checked (or give a single entry its own `source`/`asOf`
 *    when its numbers come from elsewhere).
 * 3. Run `node --test test/unit/price-catalog.test.ts`: every entry needs a positive input price, a
 *    positive output price (0 for embeddings), a source and a date, and no two ids may collide.
 * Never guess a number: a model without a published price is better left out (cost null plus the
 * warning metric) than priced wrongly.
 */
import type { PriceCatalog } from './types.ts';

export const PRICE_CATALOG: PriceCatalog = {
  openai: {
    source: 'https://developers.openai.com/api/docs/pricing',
    asOf: '2026-12-07',
    // Standard tier, prompts up to 272K tokens: GPT-5.4 and later bill a longer prompt at 2x input and
    // 1.5x output for the whole request. Regional data residency adds 10%. GPT-6 models bill cache
    // writes: `cacheWrite` is the 30-minute write (1.25x input); the 12-hour write is 2.5x input.
    entries: [
      { model: 'gpt-6.1-terra', input: 1.0, cachedInput: 0.05, cacheWrite: 1.25, output: 5.0 },
      { model: 'gpt-6-sol', input: 2.0, cachedInput: 0.2, cacheWrite: 2.5, output: 10.0 },
      { model: 'gpt-6-luna', input: 0.1, cachedInput: 0.01, cacheWrite: 0.125, output: 0.5 },
      { model: 'gpt-5.5', input: 5.0, cachedInput: 0.5, output: 30.0 },
      { model: 'gpt-5.4', input: 2.5, cachedInput: 0.25, output: 15.0 },
      { model: 'gpt-5.4-mini', input: 0.75, cachedInput: 0.075, output: 4.5 },
      { model: 'gpt-5.4-nano', input: 0.2, cachedInput: 0.02, output: 1.25 },
      { model: 'gpt-5.2', input: 1.75, cachedInput: 0.175, output: 14.0 },
      { model: 'gpt-5.1', input: 1.25, cachedInput: 0.125, output: 10.0 },
      { model: 'gpt-5', input: 1.25, cachedInput: 0.125, output: 10.0, aliases: ['gpt-5-chat-latest'] },
      { model: 'gpt-5-mini', input: 0.25, cachedInput: 0.025, output: 2.0 },
      { model: 'gpt-5-nano', input: 0.05, cachedInput: 0.005, output: 0.4 },
      { model: 'gpt-5-pro', input: 15.0, output: 120.0 },
      { model: 'gpt-4.1', input: 2.0, cachedInput: 0.5, output: 8.0 },
      { model: 'gpt-4.1-mini', input: 0.4, cachedInput: 0.1, output: 1.6 },
      { model: 'gpt-4.1-nano', input: 0.1, cachedInput: 0.025, output: 0.4 },
      { model: 'gpt-4o', input: 2.5, cachedInput: 1.25, output: 10.0 },
      // The first GPT-4o snapshot kept its launch price and has no cached-input discount.
      { model: 'gpt-4o-2024-05-13', input: 5.0, output: 15.0 },
      { model: 'gpt-4o-mini', input: 0.15, cachedInput: 0.075, output: 0.6 },
      { model: 'o1', input: 15.0, cachedInput: 7.5, output: 60.0 },
      { model: 'o1-mini', input: 1.1, cachedInput: 0.55, output: 4.4 },
      { model: 'o1-pro', input: 150.0, output: 600.0 },
      { model: 'o3', input: 2.0, cachedInput: 0.5, output: 8.0 },
      { model: 'o3-mini', input: 1.1, cachedInput: 0.55, output: 4.4 },
      { model: 'o3-pro', input: 20.0, output: 80.0 },
      { model: 'o4-mini', input: 1.1, cachedInput: 0.275, output: 4.4 },
      { model: 'text-embedding-3-small', input: 0.02, output: 0, embedding: true },
      { model: 'text-embedding-3-large', input: 0.13, output: 0, embedding: true },
      { model: 'text-embedding-ada-002', input: 0.1, output: 0, embedding: true },
    ],
  },

  'azure-openai': {
    source: 'https://azure.microsoft.com/en-us/pricing/details/cognitive-services/openai-service/',
    asOf: '2026-12-07',
    // Global (Standard) deployments, which Azure prices as OpenAI does. Data Zone and regional
    // deployments cost 10% more; provisioned (PTU) deployments are billed by the hour. Give those
    // deployments a `price:`. Azure deployment names are free text: the model Azure reports in its
    // answer (e.g. `gpt-5-2025-08-07`) is what finds these entries.
    entries: [
      { model: 'gpt-5.4', input: 2.5, cachedInput: 0.25, output: 15.0 },
      { model: 'gpt-5.4-mini', input: 0.75, cachedInput: 0.075, output: 4.5 },
      { model: 'gpt-5.4-nano', input: 0.2, cachedInput: 0.02, output: 1.25 },
      { model: 'gpt-5', input: 1.25, cachedInput: 0.125, output: 10.0 },
      { model: 'gpt-5-mini', input: 0.25, cachedInput: 0.025, output: 2.0 },
      { model: 'gpt-5-nano', input: 0.05, cachedInput: 0.005, output: 0.4 },
      { model: 'gpt-4.1', input: 2.0, cachedInput: 0.5, output: 8.0 },
      { model: 'gpt-4.1-mini', input: 0.4, cachedInput: 0.1, output: 1.6 },
      { model: 'gpt-4.1-nano', input: 0.1, cachedInput: 0.025, output: 0.4 },
      { model: 'gpt-4o', input: 2.5, cachedInput: 1.25, output: 10.0 },
      { model: 'gpt-4o-mini', input: 0.15, cachedInput: 0.075, output: 0.6 },
      { model: 'o1', input: 15.0, cachedInput: 7.5, output: 60.0 },
      { model: 'o3', input: 2.0, cachedInput: 0.5, output: 8.0 },
      { model: 'o3-mini', input: 1.1, cachedInput: 0.55, output: 4.4 },
      { model: 'o4-mini', input: 1.1, cachedInput: 0.275, output: 4.4 },
      { model: 'text-embedding-3-small', input: 0.02, output: 0, embedding: true },
      { model: 'text-embedding-3-large', input: 0.13, output: 0, embedding: true },
      { model: 'text-embedding-ada-002', input: 0.1, output: 0, embedding: true },
    ],
  },

  bedrock: {
    source: 'https://aws.amazon.com/bedrock/pricing/',
    asOf: '2026-12-07',
    // On-demand, US East (N. Virginia); other regions can differ by a few percent. Claude 4.5 and
    // later (and Nova 2) bill in-region and geographic (`us.`, `eu.`, `apac.`, `jp.`, `au.`) profiles
    // 10% above the `global.` profile: the entry carries the regional price, `globalProfile` the global
    // one (which equals Anthropic's list price). `cacheWrite` is the 5-minute write; the 1-hour write
    // is 2x input. Sonnet 4 and 4.5 bill prompts over 200K tokens (1M context) at 2x input, 1.5x output.
    entries: [
      {
        model: 'anthropic.claude-opus-5-5',
        input: 4.4,
        cachedInput: 0.22,
        cacheWrite: 5.5,
        output: 22.0,
        globalProfile: { input: 4.0, cachedInput: 0.2, cacheWrite: 5.0, output: 20.0 },
      },
      {
        model: 'anthropic.claude-sonnet-5-5',
        input: 2.2,
        cachedInput: 0.11,
        cacheWrite: 2.75,
        output: 11.0,
        globalProfile: { input: 2.0, cachedInput: 0.1, cacheWrite: 2.5, output: 10.0 },
      },
      {
        // Base tier: a prompt over 100K tokens bills the whole request at 5x these rates.
        model: 'anthropic.claude-haiku-5-5',
        input: 0.11,
        cachedInput: 0.011,
        cacheWrite: 0.1375,
        output: 0.55,
        globalProfile: { input: 0.1, cachedInput: 0.01, cacheWrite: 0.125, output: 0.5 },
      },
      {
        model: 'anthropic.claude-fable-5',
        input: 11.0,
        cachedInput: 1.1,
        cacheWrite: 13.75,
        output: 55.0,
        globalProfile: { input: 10.0, cachedInput: 1.0, cacheWrite: 12.5, output: 50.0 },
      },
      {
        model: 'anthropic.claude-sonnet-5',
        input: 2.2,
        cachedInput: 0.22,
        cacheWrite: 2.75,
        output: 11.0,
        globalProfile: { input: 2.0, cachedInput: 0.2, cacheWrite: 2.5, output: 10.0 },
      },
      {
        model: 'anthropic.claude-opus-4-8',
        input: 5.5,
        cachedInput: 0.55,
        cacheWrite: 6.875,
        output: 27.5,
        globalProfile: { input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      },
      {
        model: 'anthropic.claude-opus-4-7',
        input: 5.5,
        cachedInput: 0.55,
        cacheWrite: 6.875,
        output: 27.5,
        globalProfile: { input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      },
      {
        model: 'anthropic.claude-opus-4-6',
        input: 5.5,
        cachedInput: 0.55,
        cacheWrite: 6.875,
        output: 27.5,
        globalProfile: { input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      },
      {
        model: 'anthropic.claude-opus-4-5',
        input: 5.5,
        cachedInput: 0.55,
        cacheWrite: 6.875,
        output: 27.5,
        globalProfile: { input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      },
      {
        model: 'anthropic.claude-sonnet-4-6',
        input: 3.3,
        cachedInput: 0.33,
        cacheWrite: 4.125,
        output: 16.5,
        globalProfile: { input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      },
      {
        model: 'anthropic.claude-sonnet-4-5',
        input: 3.3,
        cachedInput: 0.33,
        cacheWrite: 4.125,
        output: 16.5,
        globalProfile: { input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      },
      {
        model: 'anthropic.claude-haiku-4-5',
        input: 1.1,
        cachedInput: 0.11,
        cacheWrite: 1.375,
        output: 5.5,
        globalProfile: { input: 1.0, cachedInput: 0.1, cacheWrite: 1.25, output: 5.0 },
      },
      { model: 'anthropic.claude-opus-4-1', input: 15.0, cachedInput: 1.5, cacheWrite: 18.75, output: 75.0 },
      { model: 'anthropic.claude-opus-4', input: 15.0, cachedInput: 1.5, cacheWrite: 18.75, output: 75.0 },
      { model: 'anthropic.claude-sonnet-4', input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      { model: 'anthropic.claude-3-7-sonnet', input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      { model: 'anthropic.claude-3-5-sonnet', input: 3.0, output: 15.0 },
      { model: 'anthropic.claude-3-5-haiku', input: 0.8, cachedInput: 0.08, cacheWrite: 1.0, output: 4.0 },
      { model: 'anthropic.claude-3-haiku', input: 0.25, output: 1.25 },
      { model: 'anthropic.claude-3-opus', input: 15.0, output: 75.0 },
      // Bedrock ids `openai.gpt-oss-120b-1:0` / `openai.gpt-oss-20b-1:0`: the `-1` is part of the id.
      { model: 'openai.gpt-oss-120b-1', input: 0.15, output: 0.6 },
      { model: 'openai.gpt-oss-20b-1', input: 0.07, output: 0.3 },
      { model: 'meta.llama4-maverick-17b-instruct', input: 0.24, output: 0.97 },
      { model: 'meta.llama4-scout-17b-instruct', input: 0.17, output: 0.66 },
      { model: 'meta.llama3-3-70b-instruct', input: 0.72, output: 0.72 },
      { model: 'meta.llama3-2-3b-instruct', input: 0.15, output: 0.15 },
      { model: 'meta.llama3-2-1b-instruct', input: 0.1, output: 0.1 },
      { model: 'meta.llama3-1-8b-instruct', input: 0.22, output: 0.22 },
      { model: 'meta.llama3-70b-instruct', input: 2.65, output: 3.5 },
      { model: 'meta.llama3-8b-instruct', input: 0.3, output: 0.6 },
      { model: 'mistral.mistral-large-3-675b-instruct', input: 0.5, output: 1.5 },
      { model: 'mistral.ministral-3-14b-instruct', input: 0.2, output: 0.2 },
      { model: 'mistral.ministral-3-8b-instruct', input: 0.15, output: 0.15 },
      { model: 'mistral.ministral-3-3b-instruct', input: 0.1, output: 0.1 },
      { model: 'mistral.mistral-small-2402', input: 1.0, output: 3.0 },
      { model: 'mistral.mixtral-8x7b-instruct', input: 0.45, output: 0.7 },
      { model: 'mistral.mistral-7b-instruct', input: 0.15, output: 0.2 },
      {
        model: 'amazon.nova-2-lite',
        input: 0.33,
        cachedInput: 0.0825,
        output: 2.75,
        globalProfile: { input: 0.3, cachedInput: 0.075, output: 2.5 },
      },
      { model: 'amazon.nova-premier', input: 2.5, output: 12.5 },
      { model: 'amazon.nova-pro', input: 0.8, output: 3.2 },
      { model: 'amazon.nova-lite', input: 0.06, output: 0.24 },
      { model: 'amazon.nova-micro', input: 0.035, output: 0.14 },
      { model: 'amazon.titan-embed-text-v2', input: 0.02, output: 0, embedding: true },
      { model: 'amazon.titan-embed-text-v1', input: 0.1, output: 0, embedding: true },
      { model: 'cohere.embed-v4', input: 0.12, output: 0, embedding: true },
      { model: 'cohere.embed-english-v3', input: 0.1, output: 0, embedding: true },
      { model: 'cohere.embed-multilingual-v3', input: 0.1, output: 0, embedding: true },
    ],
  },

  gemini: {
    source: 'https://ai.google.dev/gemini-api/docs/pricing',
    asOf: '2026-12-07',
    // Paid tier, text/image/video input. Pro models bill prompts over 200K tokens at 2x input and
    // cache reads and 1.5x output; audio input costs more on Flash models. Context-cache storage
    // (per hour) is not a token price and is not modelled; explicit cache creation bills as input.
    entries: [
      { model: 'gemini-3.5-flash', input: 1.5, cachedInput: 0.15, output: 9.0 },
      { model: 'gemini-3.5-flash-lite', input: 0.3, cachedInput: 0.03, output: 2.5 },
      { model: 'gemini-3.1-pro-preview', input: 2.0, cachedInput: 0.2, output: 12.0 },
      {
        model: 'gemini-3.1-flash-lite',
        input: 0.25,
        cachedInput: 0.025,
        output: 1.5,
        aliases: ['gemini-3.1-flash-lite-preview'],
      },
      { model: 'gemini-3-flash-preview', input: 0.5, cachedInput: 0.05, output: 3.0 },
      { model: 'gemini-2.5-pro', input: 1.25, cachedInput: 0.125, output: 10.0 },
      { model: 'gemini-2.5-flash', input: 0.3, cachedInput: 0.03, output: 2.5 },
      { model: 'gemini-2.5-flash-lite', input: 0.1, cachedInput: 0.01, output: 0.4 },
      {
        model: 'gemini-embedding-2',
        input: 0.2,
        output: 0,
        embedding: true,
        aliases: ['gemini-embedding-2-preview'],
      },
      { model: 'gemini-embedding-001', input: 0.15, output: 0, embedding: true },
    ],
  },

  vertex: {
    source: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
    asOf: '2026-12-07',
    // Standard (pay-as-you-go) Gemini on Vertex AI; the same tiers as the Gemini API apply (prompts
    // over 200K tokens on Pro models bill higher). Priority and provisioned throughput not modelled.
    entries: [
      { model: 'gemini-3.5-flash', input: 1.5, cachedInput: 0.15, output: 9.0 },
      { model: 'gemini-3.1-pro-preview', input: 2.0, cachedInput: 0.2, output: 12.0 },
      { model: 'gemini-3-flash-preview', input: 0.5, cachedInput: 0.05, output: 3.0 },
      { model: 'gemini-2.5-pro', input: 1.25, cachedInput: 0.125, output: 10.0 },
      { model: 'gemini-2.5-flash', input: 0.3, cachedInput: 0.03, output: 2.5 },
      { model: 'gemini-2.5-flash-lite', input: 0.1, cachedInput: 0.01, output: 0.4 },
      {
        model: 'gemini-embedding-2',
        input: 0.2,
        output: 0,
        embedding: true,
        aliases: ['gemini-embedding-2-preview'],
      },
      { model: 'gemini-embedding-001', input: 0.15, output: 0, embedding: true },
    ],
  },

  anthropic: {
    source: 'https://platform.claude.com/docs/en/about-claude/pricing',
    asOf: '2026-12-07',
    // `cacheWrite` is the 5-minute write (1.25x input); the 1-hour write is 2x input. US-only
    // inference (`inference_geo: us`) costs 1.1x. Sonnet 4 and 4.5 bill prompts over 200K tokens
    // (1M-context beta) at 2x input and 1.5x output.
    entries: [
      { model: 'claude-fable-5-1', input: 10.0, cachedInput: 0.25, cacheWrite: 12.5, output: 50.0 },
      { model: 'claude-fable-5', input: 10.0, cachedInput: 1.0, cacheWrite: 12.5, output: 50.0 },
      { model: 'claude-opus-5-5', input: 4.0, cachedInput: 0.2, cacheWrite: 5.0, output: 20.0 },
      { model: 'claude-opus-5', input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      // Cache reads cut from $0.20 to $0.10 on 2026-10-07.
      { model: 'claude-sonnet-5-5', input: 2.0, cachedInput: 0.1, cacheWrite: 2.5, output: 10.0 },
      { model: 'claude-sonnet-5', input: 2.0, cachedInput: 0.2, cacheWrite: 2.5, output: 10.0 },
      // Base tier: a prompt over 100K tokens bills the whole request at 5x these rates.
      { model: 'claude-haiku-5-5', input: 0.1, cachedInput: 0.01, cacheWrite: 0.125, output: 0.5 },
      { model: 'claude-opus-4-8', input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      { model: 'claude-opus-4-7', input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      { model: 'claude-opus-4-6', input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      { model: 'claude-opus-4-5', input: 5.0, cachedInput: 0.5, cacheWrite: 6.25, output: 25.0 },
      { model: 'claude-opus-4-1', input: 15.0, cachedInput: 1.5, cacheWrite: 18.75, output: 75.0 },
      {
        model: 'claude-opus-4',
        input: 15.0,
        cachedInput: 1.5,
        cacheWrite: 18.75,
        output: 75.0,
        aliases: ['claude-opus-4-0'],
      },
      { model: 'claude-sonnet-4-6', input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      { model: 'claude-sonnet-4-5', input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      {
        model: 'claude-sonnet-4',
        input: 3.0,
        cachedInput: 0.3,
        cacheWrite: 3.75,
        output: 15.0,
        aliases: ['claude-sonnet-4-0'],
      },
      { model: 'claude-haiku-4-5', input: 1.0, cachedInput: 0.1, cacheWrite: 1.25, output: 5.0 },
      { model: 'claude-3-7-sonnet', input: 3.0, cachedInput: 0.3, cacheWrite: 3.75, output: 15.0 },
      { model: 'claude-3-5-haiku', input: 0.8, cachedInput: 0.08, cacheWrite: 1.0, output: 4.0 },
      { model: 'claude-3-opus', input: 15.0, cachedInput: 1.5, cacheWrite: 18.75, output: 75.0 },
      { model: 'claude-3-haiku', input: 0.25, cachedInput: 0.03, cacheWrite: 0.3, output: 1.25 },
    ],
  },
};

/** The built-in price catalog and price lookup: normalisation of cloud model ids, overrides, invariants. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRICE_CATALOG } from '../../src/accounting/price-catalog.ts';
import {
  findCatalogEntry,
  lookupPrice,
  normaliseModelId,
  type Price,
  resolvePrice,
} from '../../src/accounting/prices.ts';
import type { PricedCloud } from '../../src/accounting/types.ts';
import type { ProviderType } from '../../src/config/index.ts';

const CLOUDS = Object.keys(PRICE_CATALOG) as PricedCloud[];

describe('price lookup', () => {
  const cases: ReadonlyArray<[name: string, ProviderType, readonly string[], Price | undefined]> = [
    ['an OpenAI model by its own id', 'openai', ['gpt-5'], { input: 1.25, cachedInput: 0.125, output: 10 }],
    [
      'an OpenAI dated snapshot',
      'openai',
      ['gpt-5-2025-08-07'],
      { input: 1.25, cachedInput: 0.125, output: 10 },
    ],
    ['a snapshot with its own price keeps it', 'openai', ['gpt-4o-2024-05-13'], { input: 5, output: 15 }],
    [
      'another snapshot falls back',
      'openai',
      ['gpt-4o-2024-11-20'],
      { input: 2.5, cachedInput: 1.25, output: 10 },
    ],
    [
      'case and spaces do not matter',
      'openai',
      [' GPT-4.1-Mini '],
      { input: 0.4, cachedInput: 0.1, output: 1.6 },
    ],
    ['an embeddings model', 'openai', ['text-embedding-3-large'], { input: 0.13, output: 0 }],
    ['a fine-tune is not its base model', 'openai', ['ft:gpt-4o-mini-2024-07-18:acme::abc123'], undefined],
    ['an unknown model', 'openai', ['gpt-99'], undefined],
    ['no ids', 'openai', [], undefined],
    ['blank ids', 'openai', ['', '  '], undefined],
    [
      'an Anthropic dated id',
      'anthropic',
      ['claude-sonnet-4-5-20250929'],
      { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    ],
    [
      'a dated id does not fall onto a neighbour',
      'anthropic',
      ['claude-opus-4-1-20250805'],
      { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 },
    ],
    [
      'an Anthropic alias',
      'anthropic',
      ['claude-sonnet-4-0'],
      { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    ],
    [
      'a -latest alias',
      'anthropic',
      ['claude-3-5-haiku-latest'],
      { input: 0.8, cachedInput: 0.08, cacheWrite: 1, output: 4 },
    ],
    ['a Bedrock id at Anthropic', 'anthropic', ['anthropic.claude-sonnet-4-5-20250929-v1:0'], undefined],
    [
      'a Bedrock geographic profile: regional price',
      'bedrock',
      ['us.anthropic.claude-sonnet-4-5-20250929-v1:0'],
      { input: 3.3, cachedInput: 0.33, cacheWrite: 4.125, output: 16.5 },
    ],
    [
      'a Bedrock global profile: global price',
      'bedrock',
      ['global.anthropic.claude-sonnet-4-5-20250929-v1:0'],
      { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    ],
    [
      'a Bedrock in-region id: regional price',
      'bedrock',
      ['anthropic.claude-haiku-4-5-20251001-v1:0'],
      { input: 1.1, cachedInput: 0.11, cacheWrite: 1.375, output: 5.5 },
    ],
    [
      'a global profile of a model without a global price',
      'bedrock',
      ['global.anthropic.claude-sonnet-4-20250514-v1:0'],
      { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    ],
    [
      'a -v1 suffix without :0',
      'bedrock',
      ['au.anthropic.claude-opus-4-6-v1'],
      { input: 5.5, cachedInput: 0.55, cacheWrite: 6.875, output: 27.5 },
    ],
    [
      'an inference-profile ARN',
      'bedrock',
      [
        'arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0',
      ],
      { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
    ],
    [
      'a foundation-model ARN',
      'bedrock',
      ['arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0'],
      { input: 0.25, output: 1.25 },
    ],
    [
      'an application-profile ARN names no model',
      'bedrock',
      ['arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5'],
      undefined,
    ],
    ['gpt-oss on Bedrock', 'bedrock', ['openai.gpt-oss-120b-1:0'], { input: 0.15, output: 0.6 }],
    ['Llama on Bedrock', 'bedrock', ['us.meta.llama3-3-70b-instruct-v1:0'], { input: 0.72, output: 0.72 }],
    [
      'Mistral with a v0:2 version',
      'bedrock',
      ['mistral.mistral-7b-instruct-v0:2'],
      { input: 0.15, output: 0.2 },
    ],
    ['Nova through a geography', 'bedrock', ['apac.amazon.nova-lite-v1:0'], { input: 0.06, output: 0.24 }],
    [
      'Nova 2 through the global profile',
      'bedrock',
      ['global.amazon.nova-2-lite-v1:0'],
      { input: 0.3, cachedInput: 0.075, output: 2.5 },
    ],
    ['Titan v2 is not Titan v1', 'bedrock', ['amazon.titan-embed-text-v2:0'], { input: 0.02, output: 0 }],
    ['Titan v1', 'bedrock', ['amazon.titan-embed-text-v1'], { input: 0.1, output: 0 }],
    [
      'a Vertex resource name',
      'vertex',
      ['projects/acme/locations/europe-west4/publishers/google/models/gemini-2.5-pro'],
      { input: 1.25, cachedInput: 0.125, output: 10 },
    ],
    ['a Vertex @version', 'vertex', ['gemini-2.5-flash@001'], { input: 0.3, cachedInput: 0.03, output: 2.5 }],
    [
      'a Vertex -001 version',
      'vertex',
      ['gemini-2.5-flash-lite-001'],
      { input: 0.1, cachedInput: 0.01, output: 0.4 },
    ],
    [
      'a Vertex embeddings model',
      'vertex',
      ['publishers/google/models/gemini-embedding-001'],
      { input: 0.15, output: 0 },
    ],
    [
      'a Gemini models/ name',
      'gemini',
      ['models/gemini-2.5-flash-lite'],
      { input: 0.1, cachedInput: 0.01, output: 0.4 },
    ],
    [
      'a Gemini preview alias',
      'gemini',
      ['gemini-3.1-flash-lite-preview'],
      { input: 0.25, cachedInput: 0.025, output: 1.5 },
    ],
    [
      'an Azure deployment name falls back to the reported model',
      'azure-openai',
      ['gpt-5-prod', 'gpt-5-2025-08-07'],
      { input: 1.25, cachedInput: 0.125, output: 10 },
    ],
    ['an Azure deployment name alone', 'azure-openai', ['gpt-5-prod'], undefined],
    [
      'the deployment model id is tried before the reported one',
      'azure-openai',
      ['gpt-4o-mini', 'gpt-4o-2024-11-20'],
      { input: 0.15, cachedInput: 0.075, output: 0.6 },
    ],
    [
      'an Azure embeddings deployment',
      'azure-openai',
      ['emb-small', 'text-embedding-3-small'],
      { input: 0.02, output: 0 },
    ],
    ['a self-hosted server has no catalog', 'openai-compatible', ['gpt-4o', 'gpt-4o'], undefined],
  ];

  for (const [name, providerType, modelIds, expected] of cases) {
    it(`${name}: ${providerType} ${JSON.stringify(modelIds)}`, () => {
      assert.deepEqual(lookupPrice(providerType, modelIds), expected);
    });
  }

  it('returns only the price fields, never the entry id, aliases or source', () => {
    const price = lookupPrice('anthropic', ['claude-opus-4-0']);
    assert.deepEqual(Object.keys(price ?? {}).sort(), ['cacheWrite', 'cachedInput', 'input', 'output']);
  });
});

describe('resolvePrice', () => {
  it("a deployment's price replaces the catalog entirely, cache prices included", () => {
    assert.deepEqual(resolvePrice({ input: 1, output: 2 }, 'openai', ['gpt-5']), { input: 1, output: 2 });
    assert.deepEqual(
      resolvePrice({ input: 1, output: 2, cacheWrite: 1.5 }, 'anthropic', ['claude-haiku-4-5']),
      {
        input: 1,
        output: 2,
        cacheWrite: 1.5,
      },
    );
  });

  it('prices a self-hosted model only through its deployment price', () => {
    assert.deepEqual(resolvePrice({ input: 0, output: 0.5 }, 'openai-compatible', ['llama-3']), {
      input: 0,
      output: 0.5,
    });
    assert.equal(resolvePrice(undefined, 'openai-compatible', ['llama-3']), undefined);
  });

  it('falls back to the catalog when the deployment has no price', () => {
    assert.deepEqual(resolvePrice(undefined, 'azure-openai', ['prod-4o', 'gpt-4o-2024-11-20']), {
      input: 2.5,
      cachedInput: 1.25,
      output: 10,
    });
    assert.equal(resolvePrice(undefined, 'openai', ['gpt-99']), undefined);
  });
});

describe('normaliseModelId', () => {
  it('lists the candidates most specific first and remembers a global profile', () => {
    assert.deepEqual(normaliseModelId('global.anthropic.claude-sonnet-4-5-20250929-v1:0'), {
      candidates: [
        'anthropic.claude-sonnet-4-5-20250929-v1:0',
        'anthropic.claude-sonnet-4-5-20250929-v1',
        'anthropic.claude-sonnet-4-5-20250929',
        'anthropic.claude-sonnet-4-5',
      ],
      globalProfile: true,
    });
    assert.equal(normaliseModelId('us.anthropic.claude-sonnet-4-5').globalProfile, false);
  });

  it('strips a geography only before a vendor segment', () => {
    assert.deepEqual(normaliseModelId('us.example').candidates, ['us.example']);
  });
});

describe('price catalog', () => {
  const isoDate = /^\d{4}-\d{2}-\d{2}$/;
  const today = new Date().toISOString().slice(0, 10);

  it('every cloud has an https source and a real date not in the future', () => {
    for (const cloud of CLOUDS) {
      const { source, asOf } = PRICE_CATALOG[cloud];
      assert.match(source, /^https:\/\/[^\s/]+\/\S*$/, `${cloud}: source`);
      assert.match(asOf, isoDate, `${cloud}: asOf`);
      assert.ok(!Number.isNaN(Date.parse(asOf)) && asOf <= today, `${cloud}: asOf ${asOf}`);
    }
  });

  it('every entry has positive input and output prices (output 0 for embeddings), a source and a date', () => {
    let entries = 0;
    for (const cloud of CLOUDS) {
      for (const entry of PRICE_CATALOG[cloud].entries) {
        entries += 1;
        const where = `${cloud}/${entry.model}`;
        assert.ok(entry.input > 0 && Number.isFinite(entry.input), `${where}: input`);
        if (entry.embedding) assert.equal(entry.output, 0, `${where}: embeddings have no output price`);
        else assert.ok(entry.output > 0 && Number.isFinite(entry.output), `${where}: output`);
        for (const prices of [entry, entry.globalProfile].filter((p) => p !== undefined)) {
          assert.ok(prices.input > 0 && prices.output >= 0, `${where}: globalProfile prices`);
          if (prices.cachedInput !== undefined) {
            assert.ok(prices.cachedInput > 0 && prices.cachedInput <= prices.input, `${where}: cachedInput`);
          }
          if (prices.cacheWrite !== undefined) {
            assert.ok(prices.cacheWrite >= prices.input, `${where}: cacheWrite costs at least input`);
          }
        }
        if (entry.globalProfile)
          assert.ok(entry.globalProfile.input <= entry.input, `${where}: global is cheaper`);
        assert.match(entry.source ?? PRICE_CATALOG[cloud].source, /^https:\/\//, `${where}: source`);
        assert.match(entry.asOf ?? PRICE_CATALOG[cloud].asOf, isoDate, `${where}: asOf`);
      }
    }
    assert.ok(entries >= 100, `the catalog prices ${entries} models`);
  });

  it('every id is already canonical and finds its own entry: no two entries collide after normalisation', () => {
    for (const cloud of CLOUDS) {
      const seen = new Set<string>();
      for (const entry of PRICE_CATALOG[cloud].entries) {
        for (const id of [entry.model, ...(entry.aliases ?? [])]) {
          const where = `${cloud}/${id}`;
          assert.ok(!seen.has(id), `${where}: listed twice`);
          seen.add(id);
          assert.equal(normaliseModelId(id).candidates[0], id, `${where}: not canonical`);
          assert.equal(findCatalogEntry(cloud, [id])?.entry, entry, `${where}: resolves to another entry`);
        }
      }
    }
  });

  it('covers the families the issue names on every cloud', () => {
    const expect: ReadonlyArray<[ProviderType, string]> = [
      ['openai', 'gpt-5-mini'],
      ['openai', 'gpt-5-nano'],
      ['openai', 'gpt-4.1-nano'],
      ['openai', 'gpt-4o-mini'],
      ['openai', 'o4-mini'],
      ['openai', 'text-embedding-ada-002'],
      ['azure-openai', 'gpt-5'],
      ['azure-openai', 'o3'],
      ['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'],
      ['bedrock', 'anthropic.claude-opus-4-1-20250805-v1:0'],
      ['bedrock', 'anthropic.claude-3-5-sonnet-20241022-v2:0'],
      ['bedrock', 'openai.gpt-oss-20b-1:0'],
      ['bedrock', 'us.meta.llama4-maverick-17b-instruct-v1:0'],
      ['bedrock', 'mistral.mixtral-8x7b-instruct-v0:1'],
      ['bedrock', 'us.amazon.nova-premier-v1:0'],
      ['bedrock', 'cohere.embed-english-v3'],
      ['gemini', 'gemini-2.5-pro'],
      ['gemini', 'gemini-3-flash-preview'],
      ['vertex', 'gemini-2.5-flash-lite'],
      ['vertex', 'gemini-embedding-001'],
      ['anthropic', 'claude-haiku-4-5-20251001'],
      ['anthropic', 'claude-3-haiku-20240307'],
    ];
    for (const [providerType, model] of expect) {
      assert.ok(lookupPrice(providerType, [model]), `${providerType}: ${model} is priced`);
    }
  });
});

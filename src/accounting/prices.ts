/**
 * Which price a request is charged at: the deployment's own `price:` if it has one, otherwise the
 * built-in catalog's entry for its model, found by normalising the ids clouds use for the same model.
 */
import type { PriceConfig, ProviderType } from '../config/schema.ts';
import { PRICE_CATALOG } from './price-catalog.ts';
import type { CatalogEntry, PricedCloud, TokenPrices } from './types.ts';

/** USD per million tokens (input, output, and optionally cached input and cache writes). */
export type Price = TokenPrices;

/** Which price list a provider type reads; self-hosted servers have none. */
const CLOUD_OF: Readonly<Record<ProviderType, PricedCloud | undefined>> = {
  openai: 'openai',
  'azure-openai': 'azure-openai',
  bedrock: 'bedrock',
  vertex: 'vertex',
  gemini: 'gemini',
  anthropic: 'anthropic',
  'openai-compatible': undefined,
};

/** Each cloud's entries by canonical id and alias. The first entry wins; the catalog test forbids clashes. */
const INDEX: ReadonlyMap<PricedCloud, ReadonlyMap<string, CatalogEntry>> = new Map(
  (Object.keys(PRICE_CATALOG) as PricedCloud[]).map((cloud) => {
    const byId = new Map<string, CatalogEntry>();
    for (const entry of PRICE_CATALOG[cloud].entries) {
      for (const id of [entry.model, ...(entry.aliases ?? [])]) {
        if (!byId.has(id)) byId.set(id, entry);
      }
    }
    return [cloud, byId] as const;
  }),
);

/**
 * Bedrock cross-region inference profile prefixes (`us.anthropic.claude-...`). Only stripped when a
 * vendor segment follows, so that no other cloud's id is mistaken for one. `global.` is remembered:
 * it is priced differently from the geographic and in-region ids.
 */
const GEOGRAPHY_PREFIX = /^(us-gov|us|eu|apac|jp|au|ca|global)\.(?=[a-z0-9-]+\.)/;

/** Snapshot and version suffixes, stripped one after another, most specific id first. */
const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI: gpt-5-2025-08-07
  /-\d{8}$/, // Anthropic: claude-sonnet-4-5-20250929
  /-latest$/, // claude-3-7-sonnet-latest
  /-\d{3}$/, // Vertex stable versions: gemini-2.0-flash-001
];

export interface NormalisedModelId {
  /** Ids to look up, most specific first: the first one the catalog knows is the model. */
  candidates: string[];
  /** The id named a Bedrock `global.` inference profile. */
  globalProfile: boolean;
}

/**
 * The catalog ids a deployment or reported model id may stand for, most specific first. An exact
 * catalog id always wins over a shortened one, so `gpt-4o-2024-05-13` keeps its own price while
 * `gpt-4o-2024-11-20` falls back to `gpt-4o`.
 */
export function normaliseModelId(modelId: string): NormalisedModelId {
  let id = modelId.trim().toLowerCase();
  // ARNs (`...:inference-profile/us.anthropic...`), Vertex resource names
  // (`projects/p/locations/l/publishers/google/models/gemini-2.5-pro`) and Gemini's `models/...`
  // name the model in their last path segment.
  id = id.slice(id.lastIndexOf('/') + 1);
  // Vertex `@001` / `@20250514` version pins.
  const at = id.indexOf('@');
  if (at > 0) id = id.slice(0, at);
  let globalProfile = false;
  const geography = GEOGRAPHY_PREFIX.exec(id);
  if (geography) {
    globalProfile = geography[1] === 'global';
    id = id.slice(geography[0].length);
  }

  const candidates: string[] = [];
  const add = (candidate: string): void => {
    if (candidate !== '' && !candidates.includes(candidate)) candidates.push(candidate);
  };
  add(id);
  // Bedrock model versions: `anthropic.claude-sonnet-4-5-20250929-v1:0` → `...-v1` → `...-20250929`.
  id = id.replace(/:\d+$/, '');
  add(id);
  id = id.replace(/-v\d+$/, '');
  add(id);
  for (const suffix of SNAPSHOT_SUFFIXES) {
    id = id.replace(suffix, '');
    add(id);
  }
  return { candidates, globalProfile };
}

/**
 * The catalog entry for the first of `modelIds` that names a priced model, and whether it was reached
 * through a Bedrock `global.` profile. Exposed for tests and diagnostics; callers want `lookupPrice`.
 */
export function findCatalogEntry(
  providerType: ProviderType,
  modelIds: readonly string[],
): { entry: CatalogEntry; globalProfile: boolean } | undefined {
  const cloud = CLOUD_OF[providerType];
  if (cloud === undefined) return undefined;
  const index = INDEX.get(cloud);
  if (index === undefined) return undefined;
  for (const modelId of modelIds) {
    if (modelId.trim() === '') continue;
    const { candidates, globalProfile } = normaliseModelId(modelId);
    for (const candidate of candidates) {
      const entry = index.get(candidate);
      if (entry !== undefined) return { entry, globalProfile };
    }
  }
  return undefined;
}

/**
 * The catalog price of a model at a cloud, trying each id in order: the deployment's model id first,
 * then the model the cloud reported in its answer (Azure deployment names such as `gpt-5-prod` are
 * free text, so only the reported model finds them). `openai-compatible` and unknown models have
 * no price (undefined): their cost is recorded as null, never as 0.
 */
export function lookupPrice(providerType: ProviderType, modelIds: readonly string[]): Price | undefined {
  const found = findCatalogEntry(providerType, modelIds);
  if (found === undefined) return undefined;
  const { entry, globalProfile } = found;
  return pricesOf(globalProfile && entry.globalProfile ? entry.globalProfile : entry);
}

/**
 * The price a deployment's requests are charged at: its own `price:` from the config replaces the
 * catalog entirely (negotiated rates, regional deployments, self-hosted models); otherwise the catalog.
 */
export function resolvePrice(
  deploymentPrice: PriceConfig | undefined,
  providerType: ProviderType,
  modelIds: readonly string[],
): Price | undefined {
  if (deploymentPrice !== undefined) return pricesOf(deploymentPrice);
  return lookupPrice(providerType, modelIds);
}

/** Only the four price fields, so that a catalog entry's id, aliases and source do not leak along. */
function pricesOf(source: TokenPrices): Price {
  const price: { -readonly [K in keyof TokenPrices]: TokenPrices[K] } = {
    input: source.input,
    output: source.output,
  };
  if (source.cachedInput !== undefined) price.cachedInput = source.cachedInput;
  if (source.cacheWrite !== undefined) price.cacheWrite = source.cacheWrite;
  return price;
}

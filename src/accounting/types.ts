/**
 * The shapes of the price catalog (src/accounting/price-catalog.ts). Kept apart so that the catalog
 * itself is nothing but data.
 */

/**
 * USD per million tokens. The same fields as a deployment's `price:` in the config (`priceSchema`).
 * `cachedInput` and `cacheWrite` are absent where the cloud has no separate price for them; cost
 * computation then charges those tokens at `input`.
 */
export interface TokenPrices {
  readonly input: number;
  readonly output: number;
  /** Prompt tokens read from a cache (cache hits). */
  readonly cachedInput?: number;
  /**
   * Prompt tokens written to a cache. Anthropic (and Claude on Bedrock) bill the 5-minute cache
   * write; the 1-hour write costs more (2x input) and is noted per cloud, not modelled.
   */
  readonly cacheWrite?: number;
}

export interface CatalogEntry extends TokenPrices {
  /** The model id the cloud prices, in canonical (normalised, lower-case) form. */
  readonly model: string;
  /** Other canonical ids of the same model at the same price (aliases, preview names). */
  readonly aliases?: readonly string[];
  /** An embeddings model: billed for input only, so its output price is 0. */
  readonly embedding?: true;
  /**
   * Bedrock: the price through a `global.` cross-region inference profile, where it differs from
   * the in-region and geographic (`us.`, `eu.`, ...) price that the entry itself carries.
   */
  readonly globalProfile?: TokenPrices;
  /** Where this entry's numbers come from, when not the cloud's `source`. */
  readonly source?: string;
  /** The date this entry was checked (YYYY-MM-DD), when not the cloud's `asOf`. */
  readonly asOf?: string;
}

/** One cloud's price list: its source and date, and the models it prices. */
export interface CloudPriceList {
  /** The public pricing page the numbers come from. */
  readonly source: string;
  /** The date the numbers were checked against the source (YYYY-MM-DD). */
  readonly asOf: string;
  readonly entries: readonly CatalogEntry[];
}

/** The provider types that have catalog prices (`openai-compatible` is self-hosted: none). */
export type PricedCloud = 'openai' | 'azure-openai' | 'bedrock' | 'vertex' | 'gemini' | 'anthropic';

export type PriceCatalog = Readonly<Record<PricedCloud, CloudPriceList>>;

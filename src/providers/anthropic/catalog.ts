/**
 * What the adapter must know about a Claude model that the Messages API does not let it leave out:
 * `max_tokens` is required (OpenAI clients usually omit it), and a few request shapes depend on
 * the model. Matched by model-id prefix, so dated ids (`claude-sonnet-4-5-20250929`) and
 * provider-prefixed ids (`us.anthropic.claude-...`) find their family.
 *
 * Sources: Anthropic's model pages (max output; structured outputs generally available on the 4.5
 * models and later; Claude Opus 5.5 and Fable 5.1 refuse forced tool use). Values are the model's
 * own ceiling, so a client that omits max_tokens is never cut short by the gateway.
 */

export interface ModelTraits {
  /** The `max_tokens` sent when the client gave none: the model's maximum output. */
  maxOutputTokens: number;
  /** Native JSON output (`output_config.format`) and `strict` tools. */
  structuredOutputs: boolean;
  /** Whether `tool_choice` `any` / `tool` (forced tool use) is accepted. */
  forcedToolChoice: boolean;
}

interface CatalogEntry extends ModelTraits {
  prefix: string;
}

const entry = (
  prefix: string,
  maxOutputTokens: number,
  structuredOutputs: boolean,
  forcedToolChoice = true,
): CatalogEntry => ({ prefix, maxOutputTokens, structuredOutputs, forcedToolChoice });

/** Longest prefix wins (sorted below), so `claude-opus-4-5` is not read as `claude-opus-4`. */
const CATALOG: readonly CatalogEntry[] = [
  entry('claude-fable-5-1', 128_000, true, false),
  entry('claude-fable-5', 128_000, true),
  entry('claude-opus-5-5', 128_000, true, false),
  entry('claude-opus-5', 128_000, true),
  entry('claude-sonnet-5', 128_000, true),
  entry('claude-haiku-5', 128_000, true),
  entry('claude-opus-4-8', 128_000, true),
  entry('claude-opus-4-7', 128_000, true),
  entry('claude-opus-4-6', 128_000, true),
  entry('claude-sonnet-4-6', 128_000, true),
  entry('claude-opus-4-5', 64_000, true),
  entry('claude-sonnet-4-5', 64_000, true),
  entry('claude-haiku-4-5', 64_000, true),
  entry('claude-opus-4-1', 32_000, false),
  entry('claude-opus-4', 32_000, false),
  entry('claude-sonnet-4', 64_000, false),
  entry('claude-3-7-sonnet', 64_000, false),
  entry('claude-3-5-sonnet', 8_192, false),
  entry('claude-3-5-haiku', 8_192, false),
  entry('claude-3', 4_096, false),
].sort((a, b) => b.prefix.length - a.prefix.length);

/**
 * An unknown model gets what every Claude model accepts: 4096 output tokens, and JSON output
 * through a forced tool rather than `output_config` (which older models reject). A deployment of
 * a newer model the catalog does not know yet still works, only with the conservative cap.
 */
export const FALLBACK_TRAITS: ModelTraits = {
  maxOutputTokens: 4_096,
  structuredOutputs: false,
  forcedToolChoice: true,
};

export function modelTraits(modelId: string): ModelTraits {
  const id = modelId.toLowerCase();
  // Bedrock- and Vertex-style ids carry a prefix (`us.anthropic.`) or a suffix (`@20250514`).
  const at = id.indexOf('claude-');
  const name = at === -1 ? id : id.slice(at);
  const found = CATALOG.find((e) => name.startsWith(e.prefix));
  if (!found) return FALLBACK_TRAITS;
  const { prefix: _prefix, ...traits } = found;
  return traits;
}

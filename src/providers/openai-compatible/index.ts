import type { ProviderConfigOf } from '../../config/schema.ts';
import { createOpenAIFamilyProvider } from '../openai/family.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { Provider } from '../types.ts';

/** vLLM, Ollama, LM Studio, TGI and other servers of OpenAI's protocol at `endpoint` (with /v1). */
export function createOpenAICompatibleProvider(config: ProviderConfigOf<'openai-compatible'>): Provider {
  const base = trimTrailingSlashes(config.endpoint);
  const headers: Record<string, string> = { ...config.headers };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  return createOpenAIFamilyProvider({
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    cloudName: 'OpenAI-compatible server',
    // Ollama ignores max_completion_tokens; every server of the family reads max_tokens.
    dialect: { legacyMaxTokens: true },
    chatUrl: () => `${base}/chat/completions`,
    embeddingsUrl: () => `${base}/embeddings`,
    headers: async () => headers,
  });
}

import type { ProviderConfigOf } from '../../config/schema.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { Provider } from '../types.ts';
import { createOpenAIFamilyProvider } from './family.ts';

export function createOpenAIProvider(config: ProviderConfigOf<'openai'>): Provider {
  const base = trimTrailingSlashes(config.endpoint ?? 'https://api.openai.com/v1');
  const headers: Record<string, string> = { ...config.headers, authorization: `Bearer ${config.apiKey}` };
  if (config.organization) headers['openai-organization'] = config.organization;
  if (config.project) headers['openai-project'] = config.project;
  return createOpenAIFamilyProvider({
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    cloudName: 'OpenAI',
    dialect: { legacyMaxTokens: false },
    chatUrl: () => `${base}/chat/completions`,
    embeddingsUrl: () => `${base}/embeddings`,
    headers: async () => headers,
  });
}

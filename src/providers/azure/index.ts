import type { ProviderConfigOf } from '../../config/schema.ts';
import { createOpenAIFamilyProvider } from '../openai/family.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { DeploymentTarget, Provider } from '../types.ts';
import { createEntraTokenSource } from './auth.ts';

type AzureConfig = ProviderConfigOf<'azure-openai'>;

/** The v1 API (`/openai/v1/...`, model = deployment name) or the classic dated deployments path. */
function azureUrls(config: AzureConfig): {
  chat(t: DeploymentTarget): string;
  embeddings(t: DeploymentTarget): string;
} {
  const resource = trimTrailingSlashes(config.endpoint);
  if (config.apiVersion === 'v1') {
    return {
      chat: () => `${resource}/openai/v1/chat/completions`,
      embeddings: () => `${resource}/openai/v1/embeddings`,
    };
  }
  const version = encodeURIComponent(config.apiVersion);
  const path = (t: DeploymentTarget, op: string) =>
    `${resource}/openai/deployments/${encodeURIComponent(t.model)}/${op}?api-version=${version}`;
  return { chat: (t) => path(t, 'chat/completions'), embeddings: (t) => path(t, 'embeddings') };
}

/** Key (`api-key` header), a static Entra ID token, or Entra client credentials with a cached token. */
function azureAuth(config: AzureConfig): () => Promise<Record<string, string>> {
  const base = { ...config.headers };
  if (config.apiKey) {
    const headers = { ...base, 'api-key': config.apiKey };
    return async () => headers;
  }
  if (config.bearerToken) {
    const headers = { ...base, authorization: `Bearer ${config.bearerToken}` };
    return async () => headers;
  }
  if (config.entra) {
    const token = createEntraTokenSource(config.entra);
    return async () => ({ ...base, authorization: `Bearer ${await token()}` });
  }
  throw new Error(`provider ${config.id}: no credential`);
}

export function createAzureOpenAIProvider(config: AzureConfig): Provider {
  const urls = azureUrls(config);
  return createOpenAIFamilyProvider({
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    cloudName: 'Azure OpenAI',
    dialect: { legacyMaxTokens: false },
    chatUrl: urls.chat,
    embeddingsUrl: urls.embeddings,
    headers: azureAuth(config),
  });
}

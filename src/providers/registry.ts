import type { ProviderConfig, ProviderType } from '../config/schema.ts';
import { createAnthropicProvider } from './anthropic/index.ts';
import { createAzureOpenAIProvider } from './azure/index.ts';
import { createBedrockProvider } from './bedrock/index.ts';
import { createGeminiProvider } from './gemini/index.ts';
import { createOpenAIProvider } from './openai/index.ts';
import { createOpenAICompatibleProvider } from './openai-compatible/index.ts';
import type { Provider, ProviderContext } from './types.ts';
import { createVertexProvider } from './vertex/index.ts';

type Factory<T extends ProviderType> = (
  config: Extract<ProviderConfig, { type: T }>,
  context: ProviderContext,
) => Provider;

/** Provider type → adapter factory. The one place that knows which clouds exist. */
const FACTORIES: { [T in ProviderType]: Factory<T> } = {
  openai: createOpenAIProvider,
  'azure-openai': createAzureOpenAIProvider,
  'openai-compatible': createOpenAICompatibleProvider,
  bedrock: createBedrockProvider,
  vertex: createVertexProvider,
  gemini: createGeminiProvider,
  anthropic: createAnthropicProvider,
};

export function supportedProviderTypes(): ProviderType[] {
  return Object.keys(FACTORIES) as ProviderType[];
}

export function createProvider(config: ProviderConfig, context: ProviderContext): Provider {
  const factory = FACTORIES[config.type] as Factory<typeof config.type> | undefined;
  if (!factory)
    throw new Error(`provider ${config.id}: type ${config.type} is not available in this build yet`);
  return factory(config, context);
}

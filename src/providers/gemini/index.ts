import type { ProviderConfigOf } from '../../config/schema.ts';
import { decodeBatchEmbedContents, encodeBatchEmbedContents } from '../google/embeddings.ts';
import { createGoogleProvider, modelPath } from '../google/provider.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { Provider, ProviderContext } from '../types.ts';

const CLOUD = 'Gemini API';

/**
 * The Gemini Developer API: `POST {origin}/v1beta/models/{model}:generateContent` (and
 * `:streamGenerateContent?alt=sse`, `:batchEmbedContents`). The key goes in `x-goog-api-key`, never in
 * the `key=` query parameter: URLs end up in logs. It takes the provider context as every factory
 * does, and needs nothing from it.
 */
export function createGeminiProvider(
  config: ProviderConfigOf<'gemini'>,
  _context: ProviderContext,
): Provider {
  const origin = trimTrailingSlashes(config.endpoint ?? 'https://generativelanguage.googleapis.com');
  const auth = { 'x-goog-api-key': config.apiKey };
  return createGoogleProvider({
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    dialect: { cloudName: CLOUD, functionCallIds: true },
    ...(config.headers ? { headers: config.headers } : {}),
    // `models/x` and `tunedModels/x` are accepted as given; a bare id is a base model.
    modelUrl: (model, method) =>
      `${origin}/v1beta/${modelPath(model.includes('/') ? model : `models/${model}`)}:${method}`,
    authHeaders: async () => auth,
    embeddings: {
      method: 'batchEmbedContents',
      encode: (request, model) => encodeBatchEmbedContents(request, model, CLOUD),
      decode: decodeBatchEmbedContents,
    },
  });
}

import type { ProviderConfigOf } from '../../config/schema.ts';
import { decodeVertexPredict, encodeVertexPredict } from '../google/embeddings.ts';
import { createGoogleProvider, modelPath } from '../google/provider.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { Provider, ProviderContext } from '../types.ts';
import { createServiceAccountTokenSource } from './auth.ts';

const CLOUD = 'Vertex AI';

/** The public origin of a Vertex location (Gemini API and Vertex AI reference: Vertex AI). */
export function vertexOrigin(location: string): string {
  if (location === 'global') return 'https://aiplatform.googleapis.com';
  // The multi-region endpoints live under a "rep" host.
  if (location === 'us' || location === 'eu') return `https://aiplatform.${location}.rep.googleapis.com`;
  return `https://${location}-aiplatform.googleapis.com`;
}

/**
 * Vertex AI: `POST {origin}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
 * (and `:streamGenerateContent?alt=sse`, `:predict` for text embeddings), Bearer tokens from a
 * service-account key file (`serviceAccountFile`, else GOOGLE_APPLICATION_CREDENTIALS). A model
 * given as a full resource name (`projects/.../endpoints/123`, a tuned model) is used as is.
 */
export function createVertexProvider(config: ProviderConfigOf<'vertex'>, context: ProviderContext): Provider {
  const keyFile = config.serviceAccountFile ?? context.env.GOOGLE_APPLICATION_CREDENTIALS;
  if (!keyFile) {
    throw new Error(
      `provider ${config.id}: no service account: set serviceAccountFile or the GOOGLE_APPLICATION_CREDENTIALS environment variable`,
    );
  }
  const location = config.region;
  const origin = trimTrailingSlashes(config.endpoint ?? vertexOrigin(location));
  const parent = `projects/${config.project}/locations/${location}`;
  const token = createServiceAccountTokenSource(keyFile);
  return createGoogleProvider({
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    // Vertex refuses `id` on function parts (pitfall 11).
    dialect: { cloudName: CLOUD, functionCallIds: false },
    ...(config.headers ? { headers: config.headers } : {}),
    modelUrl: (model, method) => {
      const resource = model.startsWith('projects/') ? model : `${parent}/publishers/google/models/${model}`;
      return `${origin}/v1/${modelPath(resource)}:${method}`;
    },
    authHeaders: async () => ({ authorization: `Bearer ${await token()}` }),
    embeddings: {
      method: 'predict',
      encode: (request) => encodeVertexPredict(request, CLOUD),
      decode: decodeVertexPredict,
    },
  });
}

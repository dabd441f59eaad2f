/**
 * AWS Bedrock through its native Converse / ConverseStream API (chat) and InvokeModel (Titan and
 * Cohere embeddings), signed with SigV4 or a Bedrock API key. Encoding, decoding and error
 * classification are pure functions in this folder; this file wires them to credentials and URLs.
 */

import type { ProviderConfigOf } from '../../config/schema.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import { credentialFailure, type HttpCall, type Provider, type ProviderContext } from '../types.ts';
import { BedrockSigner, resolveCredentials } from './auth.ts';
import { decodeConverseResponse } from './decode.ts';
import { createConverseStreamDecoder } from './decode-stream.ts';
import { decodeEmbeddingsBody, embeddingsBatchSize, encodeEmbeddingsBody } from './embeddings.ts';
import { CLOUD_NAME, encodeConverseRequest } from './encode.ts';
import { classifyBedrockError } from './errors.ts';
import { inferenceProfileResidency, modelOperationPath } from './models.ts';

export { inferenceProfileResidency } from './models.ts';

export function createBedrockProvider(
  config: ProviderConfigOf<'bedrock'>,
  context: ProviderContext,
): Provider {
  const base = trimTrailingSlashes(
    config.endpoint ?? `https://bedrock-runtime.${config.region}.amazonaws.com`,
  );
  const signer = new BedrockSigner(config.region);

  /** A signed (or bearer) POST of a JSON body to one model operation. */
  const post = async (path: string, body: unknown, accept: string): Promise<HttpCall> => {
    const url = new URL(`${base}${path}`);
    const text = JSON.stringify(body);
    const credentials = resolveCredentials(config, context.env);
    if (!credentials) {
      throw credentialFailure(
        CLOUD_NAME,
        config.id,
        'none configured: set apiKey or accessKeyId/secretAccessKey, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment',
      );
    }
    const headers = { 'content-type': 'application/json', accept };
    const auth =
      credentials.kind === 'bearer'
        ? { ...headers, authorization: `Bearer ${credentials.apiKey}` }
        : await signer.sign({ url, headers, body: text }, credentials.credentials);
    // Extra configured headers are sent unsigned: SigV4 only covers what it was given.
    return { method: 'POST', url: url.href, headers: { ...config.headers, ...auth }, body: text };
  };

  return {
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    cloudName: CLOUD_NAME,
    async chatCall(request, target, call) {
      const body = await encodeConverseRequest(request, call.loadImage);
      return request.stream
        ? post(
            modelOperationPath(target.model, 'converse-stream'),
            body,
            'application/vnd.amazon.eventstream',
          )
        : post(modelOperationPath(target.model, 'converse'), body, 'application/json');
    },
    decodeChat: decodeConverseResponse,
    chatStreamDecoder: createConverseStreamDecoder,
    classifyError: classifyBedrockError,
    embeddingsCall: (request, target) =>
      post(
        modelOperationPath(target.model, 'invoke'),
        encodeEmbeddingsBody(request, target.model),
        'application/json',
      ),
    decodeEmbeddings: decodeEmbeddingsBody,
    embeddingsBatchSize: (target) => embeddingsBatchSize(target.model),
    residency: (model) => inferenceProfileResidency(model, config.region),
  };
}

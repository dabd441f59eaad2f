import type { ProviderType } from '../../config/schema.ts';
import type { EmbeddingRequest, EmbeddingResult } from '../../core/chat.ts';
import { credentialFailure, type HttpCall, type Provider } from '../types.ts';
import { createGenerateContentStreamDecoder, decodeGenerateContent } from './decode.ts';
import { encodeGenerateContent, type GoogleDialect } from './encode.ts';
import { classifyGoogleError } from './errors.ts';

/** Embeddings as one Google front door does them. */
export interface GoogleEmbeddings {
  /** The model method: `batchEmbedContents` or `predict`. */
  method: string;
  encode(request: EmbeddingRequest, model: string): Record<string, unknown>;
  decode(body: unknown): EmbeddingResult;
}

/** What distinguishes the Gemini API from Vertex AI: where models live, auth, and the dialect. */
export interface GoogleProviderOptions {
  id: string;
  type: ProviderType;
  region: string;
  tags: readonly string[];
  dialect: GoogleDialect;
  /** Static headers from the configuration. */
  headers?: Record<string, string>;
  /** `…/models/{model}:{method}` for the deployment's model. */
  modelUrl(model: string, method: string): string;
  /** Credentials as headers; may fetch a token. Its error messages must hold no secret. */
  authHeaders(): Promise<Record<string, string>>;
  embeddings: GoogleEmbeddings;
}

/** One Gemini-protocol provider: the generateContent translation is shared by both front doors. */
export function createGoogleProvider(options: GoogleProviderOptions): Provider {
  const cloudName = options.dialect.cloudName;
  const jsonCall = async (url: string, body: unknown, accept: string): Promise<HttpCall> => {
    let auth: Record<string, string>;
    try {
      auth = await options.authHeaders();
    } catch (err) {
      const reason = err instanceof Error ? err.message : 'unknown error';
      throw credentialFailure(cloudName, options.id, reason);
    }
    return {
      method: 'POST',
      url,
      headers: { ...options.headers, 'content-type': 'application/json', accept, ...auth },
      body: JSON.stringify(body),
    };
  };
  return {
    id: options.id,
    type: options.type,
    region: options.region,
    tags: options.tags,
    cloudName,
    async chatCall(request, target, call) {
      // Encode first: a request this cloud cannot honour is refused without fetching a token.
      const body = await encodeGenerateContent(request, target.model, options.dialect, call.loadImage);
      return request.stream
        ? jsonCall(
            `${options.modelUrl(target.model, 'streamGenerateContent')}?alt=sse`,
            body,
            'text/event-stream',
          )
        : jsonCall(options.modelUrl(target.model, 'generateContent'), body, 'application/json');
    },
    decodeChat: decodeGenerateContent,
    chatStreamDecoder: createGenerateContentStreamDecoder,
    classifyError: classifyGoogleError,
    async embeddingsCall(request, target) {
      const body = options.embeddings.encode(request, target.model);
      return jsonCall(options.modelUrl(target.model, options.embeddings.method), body, 'application/json');
    },
    decodeEmbeddings: (body) => options.embeddings.decode(body),
  };
}

/** A model id as a URL path: reserved characters escaped, but `@` (Vertex versions) and `/` kept. */
export function modelPath(model: string): string {
  return model
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%40/g, '@'))
    .join('/');
}

import type { ProviderType } from '../../config/schema.ts';
import { credentialFailure, type DeploymentTarget, type HttpCall, type Provider } from '../types.ts';
import { readOpenAICapacity } from './capacity.ts';
import { createChatStreamDecoder, decodeChatCompletion } from './decode.ts';
import { decodeEmbeddingsBody, encodeEmbeddingsBody } from './embeddings.ts';
import { encodeChatBody, type OpenAIDialect } from './encode.ts';
import { classifyOpenAIError } from './errors.ts';

/**
 * What distinguishes one cloud of the OpenAI protocol family (OpenAI, Azure OpenAI, vLLM, Ollama):
 * where the operations live and how it authenticates. The body and stream formats are shared.
 */
export interface OpenAIFamilyOptions {
  id: string;
  type: ProviderType;
  region: string;
  tags: readonly string[];
  cloudName: string;
  dialect: OpenAIDialect;
  chatUrl(target: DeploymentTarget): string;
  embeddingsUrl(target: DeploymentTarget): string;
  /** Auth and static headers; async because tokens may need fetching. */
  headers(): Promise<Record<string, string>>;
}

export function createOpenAIFamilyProvider(options: OpenAIFamilyOptions): Provider {
  const jsonCall = async (url: string, body: unknown): Promise<HttpCall> => {
    let auth: Record<string, string>;
    try {
      auth = await options.headers();
    } catch (err) {
      throw credentialFailure(
        options.cloudName,
        options.id,
        err instanceof Error ? err.message : 'unknown error',
      );
    }
    return {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', accept: 'application/json', ...auth },
      body: JSON.stringify(body),
    };
  };
  return {
    id: options.id,
    type: options.type,
    region: options.region,
    tags: options.tags,
    cloudName: options.cloudName,
    chatCall: (request, target) =>
      jsonCall(options.chatUrl(target), encodeChatBody(request, target.model, options.dialect)),
    decodeChat: decodeChatCompletion,
    chatStreamDecoder: createChatStreamDecoder,
    classifyError: classifyOpenAIError,
    readCapacity: readOpenAICapacity,
    embeddingsCall: (request, target) =>
      jsonCall(options.embeddingsUrl(target), encodeEmbeddingsBody(request, target.model)),
    decodeEmbeddings: decodeEmbeddingsBody,
  };
}

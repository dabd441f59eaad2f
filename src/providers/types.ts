import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderType } from '../config/schema.ts';
import type { ChatEvent, ChatRequest, EmbeddingRequest, EmbeddingResult } from '../core/chat.ts';
import { type CapacitySignal, type HttpCall, UpstreamError, type UpstreamFailure } from '../core/upstream.ts';
import type { ImageLoader } from './shared/images.ts';

export {
  type CapacitySignal,
  type ClientFacingError,
  type FailureKind,
  type HttpCall,
  RETRYABLE_KINDS,
  UpstreamError,
  type UpstreamFailure,
} from '../core/upstream.ts';

/**
 * The gateway's own credential for a provider could not be had (token endpoint down, key file
 * unreadable, nothing configured). An auth failure of that deployment: recorded as an attempt,
 * counted against its health, and another deployment may serve. `reason` must hold no secret.
 */
export function credentialFailure(cloudName: string, providerId: string, reason: string): UpstreamError {
  return new UpstreamError({
    kind: 'auth',
    retryable: true,
    message: `${cloudName} credentials unavailable for ${providerId}: ${reason}`,
  });
}

/** Where a request for a model id may be processed, for data-boundary decisions. */
export interface DataResidency {
  /**
   * `in-region`: the provider's (or an ARN's) own region; `geography`: any region of a cross-region
   * geography (a Bedrock `us.`/`eu.` profile); `global`: any region at all.
   */
  scope: 'in-region' | 'geography' | 'global';
  /** The profile's geography prefix (`us`, `eu`, `apac`, ...) when scope is `geography`. */
  geography?: string;
  /** Globs over region names where the data may be processed (`us-*`, or `*` for anywhere). */
  regions: string[];
}

/** Incremental decoder of a native stream: bytes in, neutral events out. */
export interface ChatStreamDecoder {
  /** Throws UpstreamError when the stream carries an error. */
  push(chunk: Uint8Array): ChatEvent[];
  /** The body ended. Throws UpstreamError when it ended before the cloud said it was complete. */
  end(): ChatEvent[];
}

/** The model at one provider that a logical model's deployment points to. */
export interface DeploymentTarget {
  /** Deployment name or model id at the provider. */
  model: string;
}

/** What adapters get from the gateway besides their configuration. */
export interface ProviderContext {
  /**
   * Unused by the adapters: chatCall gets each request's own loader (ChatCallContext). Kept only
   * until the runtime and the test helpers stop setting it.
   */
  loadImage: ImageLoader;
  /** Environment for credentials that fall back to it (AWS_*, GOOGLE_APPLICATION_CREDENTIALS). */
  env: NodeJS.ProcessEnv;
}

/** What one chat request gives every attempt at it, beyond the request itself. */
export interface ChatCallContext {
  /**
   * The request's images, loaded once and shared by its failover attempts (createRequestImageLoader):
   * data URLs decoded, http(s) URLs fetched within the request's limits, stopped when it ends.
   */
  loadImage: ImageLoader;
}

/** One configured cloud endpoint: an adapter of small pure functions plus its credentials. */
export interface Provider {
  readonly id: string;
  readonly type: ProviderType;
  readonly region: string;
  readonly tags: readonly string[];
  /** Human name of the cloud for error messages ("Azure OpenAI"). */
  readonly cloudName: string;
  /**
   * Encodes a chat request. Async because credentials and images may need fetching. Throws
   * GatewayError(400).
   */
  chatCall(request: ChatRequest, target: DeploymentTarget, call: ChatCallContext): Promise<HttpCall>;
  /** The request is passed so a decoder can undo an emulation its encoder chose (a JSON tool). */
  decodeChat(body: unknown, request: ChatRequest): ChatEvent[];
  chatStreamDecoder(request: ChatRequest): ChatStreamDecoder;
  classifyError(status: number, headers: IncomingHttpHeaders, bodyText: string): UpstreamFailure;
  /**
   * What the cloud's answer headers say about the deployment's remaining capacity, for routing to
   * prefer deployments with room. Present only for clouds that send such headers (OpenAI, Azure
   * OpenAI, OpenAI-compatible servers that copy OpenAI's, Anthropic); undefined when an answer
   * carries none. Bedrock and Google send no capacity headers.
   */
  readCapacity?(headers: IncomingHttpHeaders, nowMs: number): CapacitySignal | undefined;
  embeddingsCall?(request: EmbeddingRequest, target: DeploymentTarget): Promise<HttpCall>;
  decodeEmbeddings?(body: unknown): EmbeddingResult;
  /**
   * Most inputs one embeddings call takes (Bedrock Titan: 1, Cohere: 96). The gateway splits a larger
   * request into consecutive calls of at most this many inputs and joins the vectors in order.
   * Absent: one call takes any number.
   */
  embeddingsBatchSize?(target: DeploymentTarget): number;
  /**
   * Where a request for `model` may be processed, for data boundaries. Absent: in the provider's
   * own region (a `global` region is not in any single region).
   */
  residency?(model: string): DataResidency;
}

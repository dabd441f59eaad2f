import type { EmbeddingRequest, EmbeddingResult } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import { tryParseJson } from '../core/json.ts';
import { UpstreamError } from '../core/upstream.ts';
import { estimateEmbeddings } from '../gateway/estimate.ts';
import type { InferenceSpec } from '../gateway/lifecycle.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { float32ToBase64 } from '../providers/openai/embeddings.ts';
import { type Exchange, sendJson } from './exchange.ts';
import { sendClassified } from './upstream.ts';

/**
 * Calls of one attempt in flight at once when a cloud takes few inputs per call (Bedrock Titan
 * takes one). Enough to turn 2,048 round trips into 256 rounds; few enough that one request does
 * not take a deployment's whole connection pool, nor burst past the per-second quota of the
 * account (one throttled call fails the whole attempt).
 */
export const EMBEDDING_CALLS_IN_FLIGHT = 8;

/** Embeddings as one operation of the lifecycle: how to attempt it and how to deliver it. */
export function embeddingsSpec(
  _rt: Runtime,
  ex: Exchange,
  request: EmbeddingRequest,
  requestBody: string | undefined,
): InferenceSpec<EmbeddingResult> {
  return {
    operation: 'embeddings',
    model: request.model,
    stream: false,
    estimate: estimateEmbeddings(request),
    ...(requestBody === undefined ? {} : { requestBody }),
    attempt: async (deployment, io) => {
      const provider = deployment.provider;
      const embeddingsCall = provider.embeddingsCall?.bind(provider);
      const decodeEmbeddings = provider.decodeEmbeddings?.bind(provider);
      if (!embeddingsCall || !decodeEmbeddings) {
        throw new GatewayError(
          'unsupported_parameter',
          `model: ${provider.cloudName} provider ${provider.id} serves no embeddings`,
          { param: 'model' },
        );
      }
      const target = { model: deployment.model };
      // Clouds that take few inputs per call get several calls within this one attempt, a few at a
      // time. They share the attempt's signal (io): when one fails, no new call starts, the attempt
      // is given up, and the attempt loop aborts the calls still in flight with it.
      const batches = inputBatches(request, provider.embeddingsBatchSize?.(target));
      const results = await mapInOrder(batches, EMBEDDING_CALLS_IN_FLIGHT, async (batch) => {
        const response = await sendClassified(io, provider, await embeddingsCall(batch, target));
        const json = tryParseJson(await response.body.text());
        io.firstOutput();
        const result = decodeEmbeddings(json);
        // One vector per input, in order, or the answer cannot be trusted at all.
        if (result.vectors.length !== batch.input.length) {
          throw new UpstreamError({
            kind: 'protocol',
            retryable: true,
            message: `the upstream returned ${result.vectors.length} vectors for ${batch.input.length} inputs`,
          });
        }
        return result;
      });
      return joinResults(results);
    },
    deliver: async ({ vectors, usage }) => {
      sendJson(ex, 200, {
        object: 'list',
        data: vectors.map((vector, index) => ({
          object: 'embedding',
          index,
          embedding: request.encodingFormat === 'base64' ? float32ToBase64(vector) : Array.from(vector),
        })),
        model: request.model,
        usage: { prompt_tokens: usage.promptTokens, total_tokens: usage.totalTokens },
      });
      return {
        status: 200,
        errorCode: null,
        usage: { promptTokens: usage.promptTokens, completionTokens: 0, totalTokens: usage.totalTokens },
        firstOutputAtMs: Date.now(),
      };
    },
  };
}

/** The request split into requests of at most `size` inputs each (one request when size is absent). */
function inputBatches(request: EmbeddingRequest, size: number | undefined): EmbeddingRequest[] {
  if (size === undefined || size < 1 || request.input.length <= size) return [request];
  const batches: EmbeddingRequest[] = [];
  for (let at = 0; at < request.input.length; at += size) {
    batches.push({ ...request, input: request.input.slice(at, at + size) as EmbeddingRequest['input'] });
  }
  return batches;
}

/**
 * `fn` over every item, at most `limit` at a time, results in the items' order. After the first
 * failure no new item starts, and that failure is thrown at once.
 */
async function mapInOrder<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function joinResults(results: EmbeddingResult[]): EmbeddingResult {
  const [first] = results;
  if (results.length === 1 && first) return first;
  return {
    vectors: results.flatMap((r) => r.vectors),
    usage: {
      promptTokens: results.reduce((n, r) => n + r.usage.promptTokens, 0),
      totalTokens: results.reduce((n, r) => n + r.usage.totalTokens, 0),
    },
  };
}

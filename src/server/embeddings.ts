import type { EmbeddingRequest, EmbeddingResult } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import { tryParseJson } from '../core/json.ts';
import { UpstreamError } from '../core/upstream.ts';
import type { Runtime } from '../gateway/runtime.ts';
import type { Principal } from '../identity/keys.ts';
import { float32ToBase64 } from '../providers/openai/embeddings.ts';
import { runAttempts } from '../resilience/attempts.ts';
import { type Exchange, sendJson } from './exchange.ts';
import { openRequestScope, resolveModel, sendClassified, settleAttempts } from './scope.ts';

export async function serveEmbeddings(
  rt: Runtime,
  ex: Exchange,
  principal: Principal,
  request: EmbeddingRequest,
): Promise<void> {
  const model = resolveModel(rt, principal, request.model);
  const scope = openRequestScope(rt, ex, model);
  try {
    const result = await runAttempts(scope.context, async (deployment, io) => {
      const provider = deployment.provider;
      if (!provider.embeddingsCall || !provider.decodeEmbeddings) {
        throw new GatewayError(
          'unsupported_parameter',
          `model: ${provider.cloudName} provider ${provider.id} serves no embeddings`,
          {
            param: 'model',
          },
        );
      }
      const target = { model: deployment.model };
      const results: EmbeddingResult[] = [];
      // Clouds that take few inputs per call get consecutive calls within this one attempt.
      for (const batch of inputBatches(request, provider.embeddingsBatchSize?.(target))) {
        const response = await sendClassified(io, provider, await provider.embeddingsCall(batch, target));
        const json = tryParseJson(await response.body.text());
        io.firstByte();
        const result = provider.decodeEmbeddings(json);
        // One vector per input, in order, or the answer cannot be trusted at all.
        if (result.vectors.length !== batch.input.length) {
          throw new UpstreamError({
            kind: 'protocol',
            retryable: true,
            message: `the upstream returned ${result.vectors.length} vectors for ${batch.input.length} inputs`,
          });
        }
        results.push(result);
      }
      return joinResults(results);
    });
    const served = settleAttempts(ex, scope, result);
    if (!served || !result.ok) return;
    served.end();
    const { vectors, usage } = result.value;
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
  } finally {
    scope.close();
  }
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

import type { EmbeddingRequest } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import { tryParseJson } from '../core/json.ts';
import type { Runtime } from '../gateway/runtime.ts';
import type { Principal } from '../identity/keys.ts';
import { float32ToBase64 } from '../providers/openai/embeddings.ts';
import { UpstreamError } from '../providers/types.ts';
import { runAttempts } from '../resilience/attempts.ts';
import { readErrorBody } from '../transport/http.ts';
import { type Exchange, sendError, sendJson } from './exchange.ts';
import { openRequestScope, resolveModel } from './scope.ts';

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
      const response = await io.send(await provider.embeddingsCall(request, { model: deployment.model }));
      if (response.status >= 300) {
        const text = await readErrorBody(response.body);
        throw new UpstreamError(provider.classifyError(response.status, response.headers, text));
      }
      const json = tryParseJson(await response.body.text());
      io.firstByte();
      return provider.decodeEmbeddings(json);
    });
    ex.attempts = result.attempts.filter((a) => a.outcome !== 'skipped').length;
    if (!result.ok) {
      if (result.lastDeployment) {
        ex.provider = result.lastDeployment.provider.id;
        ex.deployment = result.lastDeployment.model;
      }
      if (scope.abortCause() !== 'client_gone') sendError(ex, result.error);
      return;
    }
    result.served.end();
    ex.provider = result.served.deployment.provider.id;
    ex.deployment = result.served.deployment.model;
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

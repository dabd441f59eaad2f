/**
 * Simulated vLLM-like OpenAI-compatible server (the self-hosted servers' documentation: vLLM): the OpenAI router with a flavour that
 * drops what such servers do not send (obfuscation, system_fingerprint, service_tier, usage
 * details, rate-limit headers), tolerates unknown fields, and wraps errors with an integer `code`
 * (vLLM ≥ Aug 2025). Auth is optional: no keys configured means no auth, as with `vllm serve`
 * without `--api-key`; with keys, a wrong Bearer token gets vLLM's bare `{"error":"Unauthorized"}`.
 */

import { bearerToken, createOpenAIRouter, type OpenAIOptions } from './openai.ts';
import { type OpenAIFlavour, openaiStatusFault } from './openai-flavour.ts';
import type { ApiError } from './openai-request.ts';
import type { ProtocolHandler } from './server.ts';

const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  401: 'UnauthorizedError',
  404: 'NotFoundError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
};

function vllmErrorBody(error: ApiError): unknown {
  return {
    error: {
      message: error.message,
      type: ERROR_TYPES[error.status] ?? (error.status >= 500 ? 'InternalServerError' : 'BadRequestError'),
      param: error.param ?? null,
      code: error.status,
    },
  };
}

export const openaiCompatibleFlavour: OpenAIFlavour = {
  obfuscation: false,
  usageDetails: false,
  strict: false,
  modelEntry: (id) => ({ owned_by: 'vllm', root: id, parent: null, max_model_len: 32768 }),
  errorBody: vllmErrorBody,
  // vLLM itself never throttles, but a proxy in front of it does: keep OpenAI's retry headers.
  statusFault: (fault, model) => openaiStatusFault(fault, model, vllmErrorBody),
};

export function createOpenAICompatibleHandler(options: OpenAIOptions): ProtocolHandler {
  const keys = new Set(options.apiKeys);
  return createOpenAIRouter({
    flavour: openaiCompatibleFlavour,
    label: options.label,
    models: options.models,
    // vLLM serves one model and falls back to it when the body names none.
    ...(options.models[0] !== undefined ? { defaultModel: options.models[0] } : {}),
    authenticate(ex) {
      if (keys.size === 0) return undefined;
      const token = bearerToken(ex);
      return token !== undefined && keys.has(token)
        ? undefined
        : { status: 401, body: { error: 'Unauthorized' } };
    },
    headers: () => ({}),
    notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
    modelNotFound: (model) => ({
      status: 404,
      body: vllmErrorBody({ status: 404, message: `The model \`${model}\` does not exist.`, param: 'model' }),
    }),
  });
}

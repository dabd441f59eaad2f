/**
 * A "flavour" is everything that differs between clouds speaking the OpenAI chat dialect
 * (OpenAI itself, Azure OpenAI, vLLM-like servers): error envelopes, optional fields, headers and
 * annotation hooks. The renderers in openai-chat.ts / openai-embeddings.ts take one, so each cloud
 * module stays a thin description instead of a copy.
 */

import { randomUUID } from 'node:crypto';
import type { StatusFault } from './faults.ts';
import { retryAfterHeaders, retryAfterOf } from './faults.ts';
import type { Headers } from './http.ts';
import type { ApiError } from './openai-request.ts';

export type ChoicePhase = 'message' | 'role' | 'content' | 'tool' | 'finish';
export type Operation = 'chat' | 'embeddings';

export interface NativeError {
  status: number;
  body: unknown;
  headers?: Headers;
}

export interface OpenAIFlavour {
  /** `obfuscation` padding on every stream chunk (unless `include_obfuscation: false`). */
  obfuscation: boolean;
  /** Absent means the field is left out entirely (vLLM). */
  systemFingerprint?: string;
  serviceTier?: string;
  /** prompt_tokens_details / completion_tokens_details in usage. */
  usageDetails: boolean;
  /** Unknown fields and unpaired tool messages are 400s. */
  strict: boolean;
  extraFields?: readonly string[];
  /** `owned_by` in model listings, plus any extra fields the server adds per model. */
  modelEntry(id: string): Record<string, unknown>;
  /** The error envelope for a validation or lookup error. */
  errorBody(error: ApiError): unknown;
  /** A `status` fault rendered natively (throttling, server errors). */
  statusFault(fault: StatusFault, model: string | undefined, operation: Operation): NativeError;
  /** Azure-style annotations: top-level fields on a completion and per-choice fields. */
  decorateCompletion?(body: Record<string, unknown>): void;
  decorateChoice?(choice: Record<string, unknown>, phase: ChoicePhase): void;
  /** The answer when the prompt trips the content filter; absent = a 200 with finish_reason content_filter. */
  promptFiltered?(): NativeError;
  /** Chunks sent before the first choice chunk (Azure's empty prompt-filter chunk). */
  streamPrelude?(): Record<string, unknown>[];
}

/** `chatcmpl-` style ids: unique per response (the engine's text is what stays deterministic). */
export function responseId(prefix: string): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 29)}`;
}

const SERVER_ERROR =
  'The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists.';

function statusMessage(
  fault: StatusFault,
  model: string | undefined,
  retryAfterMs: number | undefined,
): ApiError {
  const base = { status: fault.status, param: null };
  const wait = retryAfterMs === undefined ? '' : ` Please try again in ${retryAfterMs}ms.`;
  switch (fault.status) {
    case 429:
      return {
        ...base,
        message:
          fault.message ??
          `Rate limit reached for ${model ?? 'this model'} in organization org-sim on requests per min (RPM): Limit 10000, Used 10000, Requested 1.${wait} Visit https://platform.openai.com/account/rate-limits to learn more.`,
        type: 'requests',
        code: 'rate_limit_exceeded',
      };
    case 500:
      return { ...base, message: fault.message ?? SERVER_ERROR, type: 'server_error', code: null };
    case 503:
      return {
        ...base,
        message: fault.message ?? 'The server is overloaded or not ready yet.',
        type: 'service_unavailable_error',
        code: 'server_is_overloaded',
      };
    default:
      return {
        ...base,
        message: fault.message ?? `Simulated error with status ${fault.status}.`,
        type: fault.status >= 500 ? 'server_error' : 'invalid_request_error',
        code: null,
      };
  }
}

export function openaiErrorBody(error: ApiError): unknown {
  return {
    error: {
      message: error.message,
      type: error.type === undefined ? 'invalid_request_error' : error.type,
      param: error.param ?? null,
      code: error.code ?? null,
    },
  };
}

/** The OpenAI-style status fault: the message/type/code table of OpenAI API reference: Errors plus retry headers. */
export function openaiStatusFault(
  fault: StatusFault,
  model: string | undefined,
  errorBody: (e: ApiError) => unknown = openaiErrorBody,
): NativeError {
  const retryAfterMs = retryAfterOf(fault);
  return {
    status: fault.status,
    body: errorBody(statusMessage(fault, model, retryAfterMs)),
    headers: retryAfterHeaders(retryAfterMs),
  };
}

export const openaiFlavour: OpenAIFlavour = {
  obfuscation: true,
  systemFingerprint: 'fp_sim0000001',
  serviceTier: 'default',
  usageDetails: true,
  strict: true,
  modelEntry: () => ({ owned_by: 'system' }),
  errorBody: openaiErrorBody,
  statusFault: (fault, model) => openaiStatusFault(fault, model),
};

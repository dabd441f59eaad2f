import type { IncomingHttpHeaders } from 'node:http';
import { asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { retryAfterMsFromHeaders } from '../retry-after.ts';
import { isRedirect, kindForHttpStatus, redirectFailure } from '../shared/status.ts';
import { type ClientFacingError, type FailureKind, RETRYABLE_KINDS, type UpstreamFailure } from '../types.ts';

/** Longest upstream message we keep: enough to diagnose, short enough for a log line. */
const MAX_MESSAGE = 500;

/** The shared status table, refined by the one body code that says more: a content-filter refusal. */
function kindForStatus(status: number, code: string | undefined): FailureKind {
  if (code === 'content_filter') return 'content_filter';
  return kindForHttpStatus(status);
}

/**
 * An error inside a 200 response (a stream's `data: {"error": ...}` or an error body served with
 * 200) has no status to go by: its type and code say what happened.
 */
function kindForInBandError(type: string | undefined, code: string | undefined): FailureKind {
  // Azure and vLLM put the HTTP status they would have answered in `code` ("429", 503).
  if (code !== undefined && /^[45]\d\d$/.test(code)) return kindForHttpStatus(Number(code));
  const words = `${type ?? ''} ${code ?? ''}`.toLowerCase();
  if (words.includes('content_filter')) return 'content_filter';
  if (words.includes('rate_limit') || words.includes('insufficient_quota') || words.includes('429'))
    return 'throttled';
  if (words.includes('overloaded') || words.includes('unavailable') || words.includes('slow_down'))
    return 'overloaded';
  if (words.includes('invalid_request') || words.includes('context_length')) return 'client';
  return 'server';
}

/**
 * The OpenAI family's error envelope `{"error": {message, type, param, code}}`, also vLLM's older
 * top-level `{"object": "error", message, ...}` and Azure's `code: "429"` variant.
 */
export function failureFromErrorBody(body: JsonObject | undefined, status: number): UpstreamFailure {
  const error = asObject(body?.error) ?? (body?.object === 'error' ? body : undefined);
  const rawCode = error?.code;
  const code =
    typeof rawCode === 'string' ? rawCode : typeof rawCode === 'number' ? String(rawCode) : undefined;
  const message = (asString(error?.message) ?? asString(body?.error) ?? `upstream answered ${status}`).slice(
    0,
    MAX_MESSAGE,
  );
  const kind = status >= 400 ? kindForStatus(status, code) : kindForInBandError(asString(error?.type), code);
  const failure: UpstreamFailure = { kind, retryable: RETRYABLE_KINDS[kind], status, message };
  if (kind === 'client' || kind === 'content_filter') {
    const clientError: ClientFacingError = {
      message,
      type: asString(error?.type) ?? (kind === 'client' ? 'invalid_request_error' : null),
      param: asString(error?.param) ?? null,
      code: code ?? null,
    };
    // Azure explains content-filter refusals in `innererror`; clients string-match on it.
    const inner = asObject(error?.innererror);
    if (inner) clientError.extra = { innererror: inner };
    failure.clientError = clientError;
  }
  return failure;
}

export function classifyOpenAIError(
  status: number,
  headers: IncomingHttpHeaders,
  bodyText: string,
): UpstreamFailure {
  if (isRedirect(status)) return redirectFailure(status, headers);
  const failure = failureFromErrorBody(asObject(tryParseJson(bodyText)), status);
  const retryAfterMs = retryAfterMsFromHeaders(headers);
  if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  return failure;
}

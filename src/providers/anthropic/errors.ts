import type { IncomingHttpHeaders } from 'node:http';
import { asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { retryAfterMsFromHeaders } from '../retry-after.ts';
import { isRedirect, kindForHttpStatus, redirectFailure } from '../shared/status.ts';
import { type FailureKind, RETRYABLE_KINDS, type UpstreamFailure } from '../types.ts';

/** Longest upstream message we keep: enough to diagnose, short enough for a log line. */
const MAX_MESSAGE = 500;

/** Anthropic API reference: Errors: `error.type` of the envelope → what routing does with it. */
const KIND_BY_TYPE: Record<string, FailureKind> = {
  invalid_request_error: 'client',
  request_too_large: 'client',
  authentication_error: 'auth',
  permission_error: 'auth',
  // The account cannot pay: a configuration problem at this deployment, another may serve.
  billing_error: 'auth',
  not_found_error: 'not_found',
  rate_limit_error: 'throttled',
  api_error: 'server',
  timeout_error: 'timeout',
  overloaded_error: 'overloaded',
};

/** For bodies without a known type (a proxy's HTML page, an unknown future type): the shared table. */
function kindForStatus(status: number): FailureKind {
  // An error inside a 200 stream whose type we do not know: assume the cloud's side failed.
  return status >= 300 ? kindForHttpStatus(status) : 'server';
}

/**
 * Anthropic's envelope `{"type":"error","error":{"type","message"},"request_id"}` → a failure.
 * `status` is the HTTP status, or 200 for an `error` event inside a stream.
 */
export function failureFromAnthropicError(body: JsonObject | undefined, status: number): UpstreamFailure {
  const error = asObject(body?.error);
  const type = asString(error?.type);
  const requestId = asString(body?.request_id);
  const detail = asString(error?.message) ?? `upstream answered ${status}`;
  const message = (requestId ? `${detail} (request ${requestId})` : detail).slice(0, MAX_MESSAGE);
  let kind = (type && KIND_BY_TYPE[type]) || kindForStatus(status);
  // A spent monthly limit is a 429 that will not clear by waiting: treat it like a credential problem.
  if (asString(asObject(error?.details)?.error_code) === 'enforced_spend_limit_reached') kind = 'auth';
  const failure: UpstreamFailure = { kind, retryable: RETRYABLE_KINDS[kind], message };
  if (status >= 400) failure.status = status;
  if (kind === 'client') {
    failure.clientError = {
      message: detail.slice(0, MAX_MESSAGE),
      type: 'invalid_request_error',
      param: null,
      // Anthropic's own type names the cause when it is more than a plain invalid request.
      code: type && type !== 'invalid_request_error' ? type : null,
    };
  }
  return failure;
}

export function classifyAnthropicError(
  status: number,
  headers: IncomingHttpHeaders,
  bodyText: string,
): UpstreamFailure {
  if (isRedirect(status)) return redirectFailure(status, headers);
  const failure = failureFromAnthropicError(asObject(tryParseJson(bodyText)), status);
  const retryAfterMs = retryAfterMsFromHeaders(headers);
  if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  return failure;
}

import type { IncomingHttpHeaders } from 'node:http';
import { asArray, asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { retryAfterMsFromHeaders } from '../retry-after.ts';
import { isRedirect, kindForHttpStatus, redirectFailure } from '../shared/status.ts';
import { type FailureKind, RETRYABLE_KINDS, type UpstreamFailure } from '../types.ts';

/**
 * Google's RPC error envelope (Gemini API and Vertex AI reference: Errors):
 * `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`.
 * The canonical `status` decides the kind; the HTTP code is the fallback for bodies without one
 * (a proxy's HTML page, an empty body).
 */

/** Longest upstream message kept: enough to diagnose, short enough for a log line. */
const MAX_MESSAGE = 500;

const KIND_BY_CANONICAL: Record<string, FailureKind> = {
  RESOURCE_EXHAUSTED: 'throttled',
  UNAVAILABLE: 'overloaded',
  INVALID_ARGUMENT: 'client',
  FAILED_PRECONDITION: 'client',
  OUT_OF_RANGE: 'client',
  PERMISSION_DENIED: 'auth',
  UNAUTHENTICATED: 'auth',
  NOT_FOUND: 'not_found',
  DEADLINE_EXCEEDED: 'timeout',
  INTERNAL: 'server',
  UNKNOWN: 'server',
  DATA_LOSS: 'server',
  ABORTED: 'server',
  CANCELLED: 'server',
  UNIMPLEMENTED: 'server',
};

/**
 * ErrorInfo reasons that say the gateway's own credential is bad. The Gemini API answers a wrong
 * key with 400 INVALID_ARGUMENT + reason API_KEY_INVALID: a configuration problem at this
 * deployment, not a bad request, so it must not reach the client as a 400.
 */
const AUTH_REASONS = new Set([
  'API_KEY_INVALID',
  'API_KEY_EXPIRED',
  'API_KEY_SERVICE_BLOCKED',
  'SERVICE_DISABLED',
]);

/** `"34.4s"` (google.protobuf.Duration in JSON) → milliseconds. */
export function durationToMs(value: unknown): number | undefined {
  const text = asString(value);
  const match = text === undefined ? null : /^(\d+(?:\.\d+)?)s$/.exec(text.trim());
  return match ? Math.ceil(Number(match[1]) * 1000) : undefined;
}

function detailsOfType(error: JsonObject | undefined, type: string): JsonObject[] {
  return asArray(error?.details)
    .map((d) => asObject(d))
    .filter(
      (d): d is JsonObject =>
        d !== undefined && asString(d['@type'])?.endsWith(`google.rpc.${type}`) === true,
    );
}

/** A Google error body (parsed) → failure. `status` is the HTTP status, 200 for an in-stream error. */
export function failureFromGoogleError(body: JsonObject | undefined, status: number): UpstreamFailure {
  const error = asObject(body?.error);
  const canonical = asString(error?.status);
  const code = asNumber(error?.code);
  const message = (asString(error?.message) ?? `upstream answered ${status}`).slice(0, MAX_MESSAGE);
  const httpStatus = status >= 400 ? status : (code ?? status);
  let kind = (canonical ? KIND_BY_CANONICAL[canonical] : undefined) ?? kindForHttpStatus(httpStatus);
  const reasons = detailsOfType(error, 'ErrorInfo').map((d) => asString(d.reason));
  if (reasons.some((r) => r !== undefined && AUTH_REASONS.has(r))) kind = 'auth';
  const failure: UpstreamFailure = { kind, retryable: RETRYABLE_KINDS[kind], status: httpStatus, message };
  const retryDelay = detailsOfType(error, 'RetryInfo')
    .map((d) => durationToMs(d.retryDelay))
    .find((ms) => ms !== undefined);
  if (retryDelay !== undefined) failure.retryAfterMs = retryDelay;
  if (kind === 'client') {
    failure.clientError = {
      message,
      type: 'invalid_request_error',
      param: null,
      code: canonical ?? null,
    };
  }
  return failure;
}

export function classifyGoogleError(
  status: number,
  headers: IncomingHttpHeaders,
  bodyText: string,
): UpstreamFailure {
  if (isRedirect(status)) return redirectFailure(status, headers);
  const parsed = tryParseJson(bodyText);
  // streamGenerateContent without alt=sse wraps errors in an array: `[{"error": {...}}]`.
  const body = asObject(Array.isArray(parsed) ? parsed[0] : parsed);
  const failure = failureFromGoogleError(body, status);
  if (failure.retryAfterMs === undefined) {
    const fromHeaders = retryAfterMsFromHeaders(headers);
    if (fromHeaders !== undefined) failure.retryAfterMs = fromHeaders;
  }
  return failure;
}

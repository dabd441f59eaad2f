/**
 * Bedrock errors (AWS Bedrock API reference: Non-streaming errors) → failures routing understands. The error name comes from the
 * `x-amzn-ErrorType` header (text before `:`, after `#`), then the body's `code`, then `__type`,
 * the order the AWS SDK reads them; the message from `message` or `Message`.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { asObject, asString, tryParseJson } from '../../core/json.ts';
import { retryAfterMsFromHeaders } from '../retry-after.ts';
import { isRedirect, kindForHttpStatus, redirectFailure } from '../shared/status.ts';
import { type FailureKind, RETRYABLE_KINDS, type UpstreamFailure } from '../types.ts';

const MAX_MESSAGE = 500;

/** Exception name (either case of the first letter: stream frames use camelCase) → failure kind. */
const KINDS: Record<string, FailureKind> = {
  throttlingexception: 'throttled',
  servicequotaexceededexception: 'throttled',
  modelnotreadyexception: 'overloaded',
  serviceunavailableexception: 'overloaded',
  internalserverexception: 'server',
  modelerrorexception: 'server',
  modelstreamerrorexception: 'server',
  modeltimeoutexception: 'timeout',
  validationexception: 'client',
  conflictexception: 'client',
  serializationexception: 'client',
  accessdeniedexception: 'auth',
  unrecognizedclientexception: 'auth',
  invalidsignatureexception: 'auth',
  incompletesignatureexception: 'auth',
  missingauthenticationtokenexception: 'auth',
  expiredtokenexception: 'auth',
  invalidclienttokenid: 'auth',
  signaturedoesnotmatch: 'auth',
  resourcenotfoundexception: 'not_found',
};

/**
 * Validation messages that say this deployment's model id is wrong (a configuration problem at
 * this provider), not that the client's request is: another deployment may well serve it.
 */
const MISCONFIGURED_MODEL = [/model identifier is invalid/i, /on-demand throughput isn.t supported/i];

/** `ThrottlingException:http://internal.amazon.com/coral/...` or `com.amazon.coral#ThrottlingException` → the name. */
export function errorTypeName(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const name = raw.split(':')[0]?.split('#').at(-1)?.trim();
  return name ? name : undefined;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A failure from an exception's name, HTTP status (0 for a stream frame) and message. */
export function bedrockFailure(
  name: string | undefined,
  status: number,
  rawMessage: string,
): UpstreamFailure {
  // InvalidSignatureException quotes the expected canonical request, which holds the session token.
  const message = rawMessage.split('\n\nThe Canonical String')[0]!.slice(0, MAX_MESSAGE);
  let kind = (name && KINDS[name.toLowerCase()]) || (status > 0 ? kindForHttpStatus(status) : 'server');
  if (kind === 'client' && MISCONFIGURED_MODEL.some((re) => re.test(message))) kind = 'not_found';
  const failure: UpstreamFailure = {
    kind,
    retryable: RETRYABLE_KINDS[kind],
    message: `${name ?? 'error'}: ${message}`,
  };
  if (status > 0) failure.status = status;
  if (kind === 'client') {
    failure.clientError = { message, type: 'invalid_request_error', param: null, code: name ?? null };
  }
  return failure;
}

export function classifyBedrockError(
  status: number,
  headers: IncomingHttpHeaders,
  bodyText: string,
): UpstreamFailure {
  if (isRedirect(status)) return redirectFailure(status, headers);
  const body = asObject(tryParseJson(bodyText));
  const name =
    errorTypeName(header(headers, 'x-amzn-errortype')) ??
    errorTypeName(asString(body?.code)) ??
    errorTypeName(asString(body?.__type));
  const message = asString(body?.message) ?? asString(body?.Message) ?? `Bedrock answered HTTP ${status}`;
  const failure = bedrockFailure(name, status, message);
  const retryAfterMs = retryAfterMsFromHeaders(headers);
  if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  return failure;
}

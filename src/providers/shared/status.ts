/**
 * The one HTTP status → failure kind table every cloud's error classifier starts from. A cloud's
 * errors.ts refines it only with what its own body says (OpenAI's `content_filter` code, Anthropic's
 * `error.type`, Bedrock's exception names, Google's canonical status); a bare status, as a proxy or
 * load balancer in front of any cloud sends it, means the same thing whichever cloud is behind it.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { type FailureKind, RETRYABLE_KINDS, type UpstreamFailure } from '../types.ts';

export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** An HTTP status of an upstream answer → what routing does with it. */
export function kindForHttpStatus(status: number): FailureKind {
  // A cloud endpoint never redirects an API call: the deployment's URL is wrong (http for https,
  // an old host). The transport does not follow redirects, so this is the deployment's failure.
  if (isRedirect(status)) return 'redirect';
  if (status === 429) return 'throttled';
  // 402: the account cannot pay. Like a refused key, a configuration problem at this deployment.
  if (status === 401 || status === 402 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408 || status === 504) return 'timeout';
  // 529 is Anthropic's overload; proxies in front of other clouds use it too.
  if (status === 503 || status === 529) return 'overloaded';
  // 424 Failed Dependency: the model behind the endpoint failed (Bedrock ModelErrorException).
  if (status >= 500 || status === 424) return 'server';
  if (status >= 400) return 'client';
  // 1xx/2xx never reach a classifier as errors; an unknown code is the upstream's fault.
  return 'server';
}

/** Longest Location excerpt kept in a message. */
const MAX_LOCATION = 200;

/**
 * Where a redirect pointed, safe to log: scheme, host and path only. The query and fragment may
 * hold a credential (Gemini's `?key=`, a signed URL), user info certainly does.
 */
export function safeLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  let url: URL;
  try {
    url = new URL(location, 'relative:/');
  } catch {
    return undefined;
  }
  const where = url.protocol === 'relative:' ? url.pathname : `${url.protocol}//${url.host}${url.pathname}`;
  return where.slice(0, MAX_LOCATION);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A 3xx answer from any cloud: the same failure, whatever its body says. */
export function redirectFailure(status: number, headers: IncomingHttpHeaders): UpstreamFailure {
  const where = safeLocation(header(headers, 'location'));
  return {
    kind: 'redirect',
    retryable: RETRYABLE_KINDS.redirect,
    status,
    message: `the upstream redirected (HTTP ${status}${where ? ` to ${where}` : ''}): check the deployment's endpoint`,
  };
}

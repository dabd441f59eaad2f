/**
 * One error type for the whole gateway, with a stable code from one table (in the manner of
 * undici's UND_ERR_* and fastify's FST_ERR_*). Egress renders it in the client's dialect.
 */

/** The OpenAI error `type` each code is rendered with, and its HTTP status. */
const CODES = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unsupported_parameter: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  boundary_violation: { status: 403, type: 'permission_error' },
  admin_disabled: { status: 403, type: 'permission_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  route_not_found: { status: 404, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  request_timeout: { status: 408, type: 'invalid_request_error' },
  conflict: { status: 409, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  upstream_throttled: { status: 429, type: 'rate_limit_error' },
  upstream_client_error: { status: 400, type: 'invalid_request_error' },
  upstream_unavailable: { status: 502, type: 'api_error' },
  upstream_stream_failed: { status: 502, type: 'api_error' },
  upstream_overloaded: { status: 503, type: 'api_error' },
  no_deployment_available: { status: 503, type: 'api_error' },
  gateway_busy: { status: 503, type: 'api_error' },
  shared_state_unavailable: { status: 503, type: 'api_error' },
  shutting_down: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof CODES;

export interface GatewayErrorOptions {
  /** The request field at fault, as OpenAI's `param` (e.g. `messages[0].content`). */
  param?: string;
  /** Overrides the table's status (upstream client errors keep the upstream's status). */
  status?: number;
  /** Overrides the code rendered to the client (an upstream's own code passed through). */
  clientCode?: string | null;
  /** Overrides the error type rendered to the client. */
  clientType?: string | null;
  retryAfterMs?: number;
  /** Extra members of the rendered `error` object, e.g. Azure's `innererror` on a content filter. */
  extra?: Record<string, unknown>;
  /** Response headers the error requires (`allow` on a 405, `www-authenticate` on a 401). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly clientCode: string | null;
  readonly clientType: string | null;
  readonly retryAfterMs: number | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? CODES[code].status;
    this.param = options.param ?? null;
    this.clientCode = options.clientCode === undefined ? code : options.clientCode;
    this.clientType = options.clientType === undefined ? CODES[code].type : options.clientType;
    this.retryAfterMs = options.retryAfterMs;
    this.extra = options.extra;
    this.headers = options.headers;
  }
}

/** `field: rule` errors for bad client input. */
export function invalidRequest(param: string, rule: string): GatewayError {
  return new GatewayError('invalid_request', `${param}: ${rule}`, { param });
}

/** A parameter that changes meaning and that the chosen cloud cannot honour. */
export function unsupportedParameter(param: string, cloud: string, why: string): GatewayError {
  return new GatewayError('unsupported_parameter', `${param}: not supported by ${cloud} (${why})`, {
    param,
  });
}

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'internal error', { cause: err });
}

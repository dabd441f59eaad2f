/**
 * What an upstream call is and how it can fail: shared by the transport that sends calls, the
 * adapters that build them and classify their errors, and the attempt loop that acts on failures.
 */

/** A native HTTP request, ready to send. Adapters build these; only the transport sends them. */
export interface HttpCall {
  method: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Why an upstream attempt failed, classified so routing can decide whether to try elsewhere. */
export type FailureKind =
  | 'throttled' // 429 / quota: try another deployment, remember retry-after
  | 'overloaded' // 503 / 529: try another deployment
  | 'server' // other 5xx
  | 'connection' // refused, reset, DNS
  | 'timeout' // connect, first byte, idle or total deadline
  | 'auth' // the gateway's own credential was refused: a configuration problem at this deployment
  | 'not_found' // deployment or model missing at this provider: a configuration problem
  | 'client' // the request itself is bad: retrying elsewhere would fail the same way
  | 'content_filter' // the cloud's safety system refused the prompt
  | 'protocol' // the upstream answered something we could not understand, or cut its stream
  /**
   * The model, not the cloud, failed: it produced output its own cloud calls invalid (Gemini
   * MALFORMED_FUNCTION_CALL, Bedrock malformed_tool_use). Another deployment may well answer, and
   * the deployment is healthy, so this kind never counts against its health.
   */
  | 'model_output'
  /** A 3xx from a cloud endpoint: the deployment's endpoint is misconfigured, never the caller's fault. */
  | 'redirect';

/**
 * Whether another deployment may serve after a failure of this kind. Only the request's own fault
 * (a client error, a content filter) stops the search; everything else is the deployment's.
 */
export const RETRYABLE_KINDS: Readonly<Record<FailureKind, boolean>> = {
  throttled: true,
  overloaded: true,
  server: true,
  connection: true,
  timeout: true,
  auth: true,
  not_found: true,
  protocol: true,
  model_output: true,
  redirect: true,
  client: false,
  content_filter: false,
};

/** What the client sees when an upstream client error is passed through. */
export interface ClientFacingError {
  message: string;
  type: string | null;
  param: string | null;
  code: string | null;
  extra?: Record<string, unknown>;
}

export interface UpstreamFailure {
  kind: FailureKind;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** Short, redacted, for logs and the attempt list in a 5xx message. */
  message: string;
  clientError?: ClientFacingError;
}

/**
 * What a cloud said about its remaining capacity in the headers of an answer (OpenAI's
 * `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`). Every field is optional: a cloud sends
 * some, none or all of them. Times are absolute (epoch milliseconds), so a signal stays true after
 * the answer that carried it.
 */
export interface CapacitySignal {
  remainingRequests?: number;
  remainingTokens?: number;
  /** When the request allowance is full again. */
  requestsResetAtMs?: number;
  /** When the token allowance is full again. */
  tokensResetAtMs?: number;
  limitRequests?: number;
  limitTokens?: number;
}

export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure) {
    super(failure.message);
    this.name = 'UpstreamError';
    this.failure = failure;
  }
}

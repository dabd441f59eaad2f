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
  | 'protocol'; // the upstream answered something we could not understand, or cut its stream

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

export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure) {
    super(failure.message);
    this.name = 'UpstreamError';
    this.failure = failure;
  }
}

/**
 * One record per request, built when the request ends. The request log stores it; metrics,
 * traces and `/admin/deployments` are fed from the same record, so every view of a request agrees.
 */

/** One line of the explanation a request log and a 5xx message give. */
export interface AttemptRecord {
  provider: string;
  /** The deployment's model at the provider (deployment name or model id). */
  deployment: string;
  /**
   * `ok`: served the request. `failed`: the upstream (or reaching it) failed. `skipped`: never
   * sent (circuit open, out of capacity, cannot honour the request, retry budget). `aborted`:
   * started and then cancelled by the gateway (the loser of a hedge race).
   */
  outcome: 'ok' | 'failed' | 'skipped' | 'aborted';
  status?: number;
  latencyMs: number;
  /** A failure kind (`throttled`, `server`, ...) or why it was skipped (`circuit_open`, `capacity`, ...). */
  kind?: string;
  /** Human-readable: `skipped: rpm 600/600`, `throttled: retry-after 2000ms`, `chosen: lowest-cost ...`. */
  reason?: string;
  /** Started by hedging rather than after a failure. */
  hedge?: boolean;
}

export type Operation = 'chat' | 'embeddings';

export interface RequestRecord {
  /** The `x-request-id`. */
  id: string;
  /** When the request arrived, epoch milliseconds. */
  startedAtMs: number;
  operation: Operation;
  /** The key's id (`static:<name>` for keys from the configuration); null when unauthenticated. */
  keyId: string | null;
  keyName: string | null;
  team: string | null;
  /** The logical model the client asked for. */
  model: string;
  stream: boolean;
  /** The HTTP status the client got (a stream that failed after it started is 200 with `errorCode`). */
  status: number;
  errorCode: string | null;
  /** Provider id and deployment model that served, or that were tried last. */
  provider: string | null;
  deployment: string | null;
  latencyMs: number;
  /** Until the first output reached the client; null when nothing was sent. */
  ttftMs: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cachedTokens: number | null;
  cacheWriteTokens: number | null;
  reasoningTokens: number | null;
  /** USD; null when usage or a price was missing (never silently 0). */
  costUsd: number | null;
  /** The data boundary the request was routed under, as text (`regions=europe-*; tags=zdr`); null: none. */
  boundary: string | null;
  /** Which capacity served it under commitment-first routing (`commitment` | `pay-as-you-go`); else null. */
  capacity: string | null;
  attempts: AttemptRecord[];
  /** Only with `logging.bodies: true`. */
  requestBody?: string;
  responseBody?: string;
}

/**
 * What the client is told when no attempt served: one status for the whole set of outcomes, and a
 * message that lists every attempt and why. Reasons are safe to show: a cloud's credential error
 * text (which can echo part of a key) is replaced by a generic reason; the detail goes to the
 * operator's log only.
 */
import { GatewayError } from '../core/errors.ts';
import type { UpstreamFailure } from '../core/upstream.ts';
import type { Deployment, SkippedDeployment } from '../routing/types.ts';
import type { AttemptRecord } from '../telemetry/record.ts';
import type { AbortCause } from './attempts.ts';

export interface FailedAttempt {
  deployment: Deployment;
  failure: UpstreamFailure;
}

/** When a refusal names no time, clients are told to come back after this long. */
const DEFAULT_RETRY_AFTER_MS = 1000;

export function skipRecord(s: Pick<SkippedDeployment, 'deployment' | 'kind' | 'reason'>): AttemptRecord {
  return {
    provider: s.deployment.provider.id,
    deployment: s.deployment.model,
    outcome: 'skipped',
    latencyMs: 0,
    kind: s.kind,
    reason: `skipped: ${s.reason}`,
  };
}

/** `throttled: retry-after 2000ms`, `server: upstream answered 500 ...`; credentials stay generic. */
export function attemptReason(failure: UpstreamFailure): string {
  if (failure.kind === 'auth') {
    return failure.status === undefined
      ? 'auth: credentials unavailable for this deployment'
      : `auth: credentials rejected by the cloud (HTTP ${failure.status})`;
  }
  if (failure.kind === 'throttled' && failure.retryAfterMs !== undefined) {
    return `throttled: retry-after ${failure.retryAfterMs}ms (${failure.message})`;
  }
  return `${failure.kind}: ${failure.message}`;
}

/** A failure the client must see as it is: an upstream's verdict on the request itself. */
export function clientFacing(failure: UpstreamFailure, deployment: Deployment): GatewayError {
  if (failure.kind === 'timeout') return new GatewayError('upstream_timeout', failure.message);
  if (failure.kind === 'connection') return new GatewayError('upstream_unavailable', failure.message);
  const c = failure.clientError;
  return new GatewayError('upstream_client_error', c?.message ?? failure.message, {
    status: failure.status && failure.status >= 400 && failure.status < 500 ? failure.status : 400,
    clientCode: c?.code ?? null,
    clientType: c?.type ?? 'invalid_request_error',
    ...(c?.param ? { param: c.param } : {}),
    ...(c?.extra ? { extra: c.extra } : {}),
    cause: `${deployment.provider.id}/${deployment.model}`,
  });
}

export function describeAttempts(attempts: readonly AttemptRecord[]): string {
  return attempts
    .map((a) => {
      const status = a.status && a.outcome !== 'ok' ? ` ${a.status}` : '';
      return `${a.provider}/${a.deployment}: ${a.outcome}${status} (${a.reason ?? a.kind ?? ''})`;
    })
    .join('; ');
}

export interface ExhaustedInput {
  modelName: string;
  /** Deployments the plan left out, and those the breaker refused when their turn came. */
  skipped: readonly SkippedDeployment[];
  records: readonly AttemptRecord[];
  failed: readonly FailedAttempt[];
  unsupported: GatewayError | undefined;
  abortCause: AbortCause | undefined;
  now: number;
}

/**
 * Every deployment was tried or skipped and none served. Throttled (or at capacity) everywhere:
 * 429 with the soonest retry-after. Overloaded or circuits open everywhere, none throttled: 503
 * with retry-after. Timeouts only: 504. Anything else: 502.
 */
export function exhausted(input: ExhaustedInput): GatewayError {
  const { modelName: model, records, failed, now } = input;
  const detail = records.length > 0 ? describeAttempts(records) : 'no deployment';
  if (input.abortCause === 'total_timeout') {
    return new GatewayError('upstream_timeout', `total timeout reached for ${model}; attempts: ${detail}`);
  }
  if (input.abortCause === 'shutting_down') {
    return new GatewayError('shutting_down', 'the gateway is shutting down; retry the request');
  }
  const skippedBy = (kinds: string[]) => input.skipped.filter((s) => kinds.includes(s.kind));
  const throttledWaits = [
    ...failed
      .filter((f) => f.failure.kind === 'throttled')
      .map((f) => f.failure.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS),
    ...skippedBy(['throttled', 'capacity']).map((s) => (s.untilMs ?? now + DEFAULT_RETRY_AFTER_MS) - now),
  ];
  const overloadedWaits = [
    ...failed
      .filter((f) => f.failure.kind === 'overloaded')
      .map((f) => f.failure.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS),
    ...skippedBy(['circuit_open']).map((s) => (s.untilMs ?? now + DEFAULT_RETRY_AFTER_MS) - now),
  ];
  const others = failed.filter((f) => f.failure.kind !== 'throttled' && f.failure.kind !== 'overloaded');
  const triedOrRefused = throttledWaits.length + overloadedWaits.length + others.length;
  if (triedOrRefused === 0 && input.unsupported) return input.unsupported;
  const soonest = (waits: number[]) => Math.max(DEFAULT_RETRY_AFTER_MS, Math.min(...waits));
  if (others.length === 0 && throttledWaits.length > 0) {
    const retryAfterMs = soonest(throttledWaits);
    return new GatewayError(
      'upstream_throttled',
      `every deployment of ${model} is out of capacity; retry after ${Math.ceil(retryAfterMs / 1000)} s. Attempts: ${detail}`,
      { retryAfterMs },
    );
  }
  if (others.length === 0 && overloadedWaits.length > 0) {
    const retryAfterMs = soonest(overloadedWaits);
    const anyTried = failed.length > 0;
    return new GatewayError(
      anyTried ? 'upstream_overloaded' : 'no_deployment_available',
      anyTried
        ? `every deployment of ${model} is overloaded; retry after ${Math.ceil(retryAfterMs / 1000)} s. Attempts: ${detail}`
        : `no deployment of ${model} can take requests now; retry after ${Math.ceil(retryAfterMs / 1000)} s: ${detail}`,
      { retryAfterMs },
    );
  }
  if (failed.length === 0) {
    return new GatewayError(
      'no_deployment_available',
      `no deployment of ${model} can take requests now: ${detail}`,
      {
        retryAfterMs: DEFAULT_RETRY_AFTER_MS,
      },
    );
  }
  const code = others.every((f) => f.failure.kind === 'timeout')
    ? 'upstream_timeout'
    : 'upstream_unavailable';
  return new GatewayError(code, `no upstream could serve ${model}: ${detail}`);
}

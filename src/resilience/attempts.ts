import { GatewayError } from '../core/errors.ts';
import { type FailureKind, type HttpCall, UpstreamError, type UpstreamFailure } from '../core/upstream.ts';
import type { HealthTracker } from '../routing/health.ts';
import type { Deployment, LogicalModel, Plan } from '../routing/types.ts';
import { failureFromTransportError, type Transport, type UpstreamResponse } from '../transport/http.ts';
import type { RetryBudget } from './retry-budget.ts';

/** One line of the explanation a request log and a 5xx message give. */
export interface AttemptRecord {
  provider: string;
  deployment: string;
  outcome: 'ok' | 'failed' | 'skipped';
  status?: number;
  latencyMs: number;
  kind?: FailureKind | 'unsupported' | 'circuit_open' | 'retry_budget';
  reason?: string;
}

/** Why a request stopped early: its client left, its total deadline passed, or the gateway is stopping. */
export type AbortCause = 'client_gone' | 'total_timeout' | 'shutting_down';

/** What one attempt may do: send through the shared transport, and say its first byte arrived. */
export interface AttemptIO {
  signal: AbortSignal;
  send(call: HttpCall): Promise<UpstreamResponse>;
  firstByte(): void;
}

export interface AttemptContext {
  model: LogicalModel;
  plan: Plan;
  health: HealthTracker;
  retryBudget: RetryBudget;
  transport: Transport;
  /** Aborted when the client goes away or the request's total deadline passes. */
  requestSignal: AbortSignal;
  /** Why requestSignal fired, read after it did. */
  abortCause(): AbortCause | undefined;
  now(): number;
}

/** The attempt that answered; its owner calls `failedLater` or `end` once the response is over. */
export interface ServedAttempt {
  deployment: Deployment;
  startedAtMs: number;
  /** The stream failed after its first output: counts against the deployment's health. */
  failedLater(failure: UpstreamFailure): void;
  end(): void;
}

export type AttemptResult<T> =
  | { ok: true; value: T; served: ServedAttempt; attempts: AttemptRecord[] }
  | { ok: false; error: GatewayError; attempts: AttemptRecord[]; lastDeployment: Deployment | undefined };

/**
 * Executes a plan: one attempt per deployment, in order, until one succeeds, a failure says
 * retrying is pointless (a client error), maxAttempts or the retry budget runs out, or the client
 * leaves. Every outcome is recorded and fed back into deployment health.
 */
export async function runAttempts<T>(
  ctx: AttemptContext,
  attempt: (deployment: Deployment, io: AttemptIO) => Promise<T>,
): Promise<AttemptResult<T>> {
  const settings = ctx.model.routing;
  const attempts: AttemptRecord[] = ctx.plan.skipped.map((s) => ({
    provider: s.deployment.provider.id,
    deployment: s.deployment.model,
    outcome: 'skipped',
    latencyMs: 0,
    kind: s.reason === 'throttled' ? 'throttled' : 'circuit_open',
    reason: s.reason === 'throttled' ? 'out of capacity (retry-after still running)' : 'circuit open',
  }));
  const failures: UpstreamFailure[] = [];
  let unsupported: GatewayError | undefined;
  let upstreamCalls = 0;
  let lastDeployment: Deployment | undefined;
  ctx.retryBudget.recordRequest(ctx.now());

  for (const deployment of ctx.plan.attempts) {
    if (upstreamCalls >= settings.retry.maxAttempts) break;
    if (upstreamCalls > 0 && !ctx.retryBudget.tryRetry(ctx.now())) {
      attempts.push(
        record(deployment, 'skipped', 0, { kind: 'retry_budget', reason: 'retry budget exhausted' }),
      );
      break;
    }
    if (ctx.requestSignal.aborted) break;
    const admission = ctx.health.admit(deployment.key, settings.circuitBreaker, ctx.now());
    if (!admission) {
      attempts.push(
        record(deployment, 'skipped', 0, {
          kind: 'circuit_open',
          reason: 'circuit open (a probe is in flight)',
        }),
      );
      continue;
    }
    const probe = admission.probe;
    const controller = new AbortController();
    const onRequestAbort = () => controller.abort();
    ctx.requestSignal.addEventListener('abort', onRequestAbort, { once: true });
    let firstByteTimedOut = false;
    const firstByteTimer = setTimeout(() => {
      firstByteTimedOut = true;
      controller.abort();
    }, settings.timeouts.firstByteMs);
    const startedAtMs = ctx.now();
    let sent = false;
    const io: AttemptIO = {
      signal: controller.signal,
      send: (call) => {
        if (!sent) {
          sent = true;
          upstreamCalls++;
          lastDeployment = deployment;
        }
        return ctx.transport.send(call, {
          signal: controller.signal,
          connectMs: settings.timeouts.connectMs,
          headersMs: settings.timeouts.firstByteMs,
          idleMs: settings.timeouts.idleMs,
        });
      },
      firstByte: () => clearTimeout(firstByteTimer),
    };
    try {
      const value = await attempt(deployment, io);
      clearTimeout(firstByteTimer);
      const latencyMs = ctx.now() - startedAtMs;
      ctx.health.succeeded(deployment.key, latencyMs);
      attempts.push(record(deployment, 'ok', latencyMs, { status: 200 }));
      let ended = false;
      const served: ServedAttempt = {
        deployment,
        startedAtMs,
        failedLater: (failure) => {
          // A client leaving or the request's own deadline says nothing about the deployment.
          if (ctx.abortCause() !== undefined) return;
          ctx.health.failed(
            deployment.key,
            failure.kind,
            settings.circuitBreaker,
            ctx.now(),
            failure.retryAfterMs,
          );
        },
        end: () => {
          if (ended) return;
          ended = true;
          ctx.health.end(deployment.key, probe);
          ctx.requestSignal.removeEventListener('abort', onRequestAbort);
        },
      };
      // The abort listener stays until end(): a client leaving mid-stream still aborts the upstream.
      return { ok: true, value, served, attempts };
    } catch (err) {
      clearTimeout(firstByteTimer);
      ctx.requestSignal.removeEventListener('abort', onRequestAbort);
      const latencyMs = ctx.now() - startedAtMs;
      if (err instanceof GatewayError) {
        // The adapter refused before sending: this cloud cannot honour the request; another may.
        ctx.health.end(deployment.key, probe);
        unsupported ??= err;
        attempts.push(record(deployment, 'skipped', latencyMs, { kind: 'unsupported', reason: err.message }));
        continue;
      }
      const failure = describeFailure(err, ctx, firstByteTimedOut, settings.timeouts.firstByteMs);
      if (!sent) {
        // Failed before sending (credentials unavailable): still an attempt at this deployment.
        upstreamCalls++;
        lastDeployment = deployment;
      }
      // A client leaving or the request's own deadline says nothing about the deployment.
      if (ctx.abortCause() === undefined) {
        ctx.health.failed(
          deployment.key,
          failure.kind,
          settings.circuitBreaker,
          ctx.now(),
          failure.retryAfterMs,
        );
      }
      ctx.health.end(deployment.key, probe);
      failures.push(failure);
      attempts.push(
        record(deployment, 'failed', latencyMs, {
          kind: failure.kind,
          reason: failure.message,
          ...(failure.status === undefined ? {} : { status: failure.status }),
        }),
      );
      if (!failure.retryable) {
        const error =
          ctx.abortCause() === 'shutting_down'
            ? new GatewayError('shutting_down', 'the gateway is shutting down; retry the request')
            : clientFacing(failure, deployment);
        return { ok: false, error, attempts, lastDeployment: deployment };
      }
    }
  }
  return { ok: false, error: exhausted(ctx, attempts, failures, unsupported), attempts, lastDeployment };
}

function record(
  deployment: Deployment,
  outcome: AttemptRecord['outcome'],
  latencyMs: number,
  extra: Partial<AttemptRecord>,
): AttemptRecord {
  return { provider: deployment.provider.id, deployment: deployment.model, outcome, latencyMs, ...extra };
}

function describeFailure(
  err: unknown,
  ctx: AttemptContext,
  firstByteTimedOut: boolean,
  firstByteMs: number,
): UpstreamFailure {
  const cause = ctx.abortCause();
  if (cause === 'total_timeout')
    return { kind: 'timeout', retryable: false, message: 'total timeout reached' };
  if (cause === 'client_gone') return { kind: 'connection', retryable: false, message: 'client went away' };
  if (cause === 'shutting_down')
    return { kind: 'connection', retryable: false, message: 'the gateway is shutting down' };
  if (firstByteTimedOut)
    return { kind: 'timeout', retryable: true, message: `no first byte within ${firstByteMs} ms` };
  if (err instanceof UpstreamError) return err.failure;
  return failureFromTransportError(err);
}

/** A failure the client must see as it is: an upstream's verdict on the request itself. */
function clientFacing(failure: UpstreamFailure, deployment: Deployment): GatewayError {
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

function describeAttempts(attempts: readonly AttemptRecord[]): string {
  return attempts
    .map(
      (a) =>
        `${a.provider}/${a.deployment}: ${a.outcome}${a.status ? ` ${a.status}` : ''} (${a.reason ?? a.kind ?? ''})`,
    )
    .join('; ');
}

/** Every deployment was tried or skipped and none served: say which status fits, and list why. */
function exhausted(
  ctx: AttemptContext,
  attempts: AttemptRecord[],
  failures: UpstreamFailure[],
  unsupported: GatewayError | undefined,
): GatewayError {
  const model = ctx.model.name;
  if (ctx.abortCause() === 'total_timeout') {
    return new GatewayError(
      'upstream_timeout',
      `total timeout reached for ${model}; attempts: ${describeAttempts(attempts)}`,
    );
  }
  const tried = attempts.filter((a) => a.outcome !== 'skipped' || a.kind === 'throttled');
  if (tried.length === 0 && unsupported) return unsupported;
  if (tried.length > 0 && tried.every((a) => a.kind === 'throttled')) {
    const now = ctx.now();
    const waits = [
      ...failures.map((f) => f.retryAfterMs).filter((ms): ms is number => ms !== undefined),
      ...ctx.plan.skipped.filter((s) => s.untilMs !== undefined).map((s) => (s.untilMs ?? now) - now),
    ];
    const retryAfterMs = Math.max(1000, waits.length > 0 ? Math.min(...waits) : 1000);
    return new GatewayError(
      'upstream_throttled',
      `every deployment of ${model} is out of capacity; retry after ${Math.ceil(retryAfterMs / 1000)} s. Attempts: ${describeAttempts(attempts)}`,
      { retryAfterMs },
    );
  }
  const detail = attempts.length > 0 ? describeAttempts(attempts) : 'no deployment';
  if (failures.length === 0) {
    return new GatewayError(
      'no_deployment_available',
      `no deployment of ${model} can take requests now: ${detail}`,
    );
  }
  const code = failures.every((f) => f.kind === 'timeout') ? 'upstream_timeout' : 'upstream_unavailable';
  return new GatewayError(code, `no upstream could serve ${model}: ${detail}`);
}

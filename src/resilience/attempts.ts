import type { RoutingSettings } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { type HttpCall, UpstreamError, type UpstreamFailure } from '../core/upstream.ts';
import type { CapacityTicket, DeploymentStates } from '../routing/deployment-state.ts';
import type { Deployment, Plan, PlannedAttempt, SkippedDeployment } from '../routing/types.ts';
import type { Logger } from '../telemetry/log.ts';
import type { AttemptRecord } from '../telemetry/record.ts';
import type { Transport, UpstreamResponse } from '../transport/http.ts';
import type { RetryBudget } from './retry-budget.ts';
import { attemptReason, clientFacing, exhausted, type FailedAttempt, skipRecord } from './verdict.ts';

/** Why a request stopped early: its client left, its total deadline passed, or the gateway is stopping. */
export type AbortCause = 'client_gone' | 'total_timeout' | 'shutting_down';

/** What one attempt may do: send through the shared transport, and say its first output arrived. */
export interface AttemptIO {
  /** Aborted when this attempt is given up (it failed, lost a hedge race, or the request stopped). */
  signal: AbortSignal;
  send(call: HttpCall): Promise<UpstreamResponse>;
  /** The first streamed event, or the whole non-streaming answer, is in hand. */
  firstOutput(): void;
}

/** The tracing seam: one span per upstream attempt, whose traceparent goes upstream. */
export interface AttemptSpan {
  readonly traceparent: string | undefined;
  end(record: AttemptRecord, endMs: number): void;
}

export interface AttemptContext {
  modelName: string;
  settings: RoutingSettings;
  stream: boolean;
  /** Start the next attempt when the current one has no first output after this long. */
  hedgeAfterMs: number | undefined;
  plan: Plan;
  states: DeploymentStates;
  retryBudget: RetryBudget;
  transport: Transport;
  /** Tokens this request is expected to use: charged to a deployment's tpm window when it is tried. */
  estimatedTokens: number;
  /** Aborted when the client goes away, the request's total deadline passes or the gateway stops. */
  requestSignal: AbortSignal;
  /** Why requestSignal fired, read after it did. */
  abortCause(): AbortCause | undefined;
  /** The request's total deadline, epoch ms. */
  deadlineMs: number;
  now(): number;
  random(): number;
  startSpan?(deployment: Deployment, hedge: boolean, startMs: number): AttemptSpan;
  log: Logger;
}

/** The attempt that answered; its owner calls `failedLater`, then `end` once the response is over. */
export interface ServedAttempt {
  deployment: Deployment;
  startedAtMs: number;
  /** The stream failed after its first output: the cloud's failure counts against its health. */
  failedLater(failure: UpstreamFailure): void;
  /** The response is over; `tokens` is the real usage where known (settles the tpm estimate). */
  end(tokens: number | undefined): void;
}

export type AttemptResult<T> =
  | { ok: true; value: T; served: ServedAttempt; attempts: AttemptRecord[] }
  | { ok: false; error: GatewayError; attempts: AttemptRecord[]; lastDeployment: Deployment | undefined };

/**
 * Abort reasons made once: an abort without a reason builds a DOMException and captures its stack
 * on every call, a measurable share of a stream's CPU when every served attempt ends with one.
 */
const ATTEMPT_ENDED = new DOMException('the attempt ended', 'AbortError');
const ATTEMPT_GIVEN_UP = new DOMException('the attempt was given up', 'AbortError');
const FIRST_OUTPUT_TIMEOUT = new DOMException('no first output in time', 'AbortError');

interface Running<T> {
  deployment: Deployment;
  planned: PlannedAttempt;
  controller: AbortController;
  probe: boolean;
  hedge: boolean;
  startedAtMs: number;
  ticket: CapacityTicket;
  span: AttemptSpan | undefined;
  firstByteTimer: NodeJS.Timeout | undefined;
  firstByteTimedOut: boolean;
  /** The attempt reached the network (or its credentials failed): it counts as an upstream call. */
  called: boolean;
  /**
   * Calls sent and not yet over (the transport says when each is). A served attempt whose calls
   * are all over has nothing to abort at its end: aborting anyway built and dispatched an abort
   * event per request (~2% of a gateway's CPU at saturation).
   */
  openCalls: number;
  settled: Promise<Settled<T>>;
}

type Settled<T> =
  | { running: Running<T>; ok: true; value: T }
  | { running: Running<T>; ok: false; error: unknown };

/**
 * Executes a plan: attempts in order until one produces its first output. A failure the request
 * itself caused stops the search; the cloud's failures (and only those) feed its health and move
 * on to the next deployment, within `retry.maxAttempts` and the model's retry budget. With hedging,
 * an attempt silent for `hedge.afterMs` gets a competitor; the first to answer wins and every
 * other attempt is aborted at once. Every attempt is aborted when it is given up, so no upstream
 * connection outlives the attempt that opened it.
 */
export async function runAttempts<T>(
  ctx: AttemptContext,
  attempt: (deployment: Deployment, io: AttemptIO) => Promise<T>,
): Promise<AttemptResult<T>> {
  const { settings } = ctx;
  // Skips the strategy ranked ahead of the first attempt explain a spillover: they read first.
  // The others (dearer, slower, a later priority) were not needed: they read last.
  const records: AttemptRecord[] = ctx.plan.skipped.filter((s) => !s.behind).map(skipRecord);
  const unneeded = ctx.plan.skipped.filter((s) => s.behind).map(skipRecord);
  const explained = () => records.concat(unneeded);
  const skipped: SkippedDeployment[] = [...ctx.plan.skipped];
  const queue = ctx.plan.attempts.slice();
  const running = new Set<Running<T>>();
  const failed: FailedAttempt[] = [];
  let unsupported: GatewayError | undefined;
  /** Attempts launched that count against retry.maxAttempts (an adapter's refusal does not). */
  let attemptsStarted = 0;
  let throttleRetries = 0;
  let lastDeployment: Deployment | undefined;
  ctx.retryBudget.recordRequest(ctx.now());

  const launch = (planned: PlannedAttempt, probe: boolean, hedge: boolean): void => {
    const { deployment } = planned;
    attemptsStarted++;
    const controller = new AbortController();
    const startedAtMs = ctx.now();
    const span = ctx.startSpan?.(deployment, hedge, startedAtMs);
    const r: Running<T> = {
      deployment,
      planned: hedge
        ? { deployment, reason: `hedge: no first output after ${ctx.hedgeAfterMs} ms` }
        : planned,
      controller,
      probe,
      hedge,
      startedAtMs,
      ticket: ctx.states.charge(deployment.key, ctx.estimatedTokens, startedAtMs),
      span,
      firstByteTimer: undefined,
      firstByteTimedOut: false,
      called: false,
      openCalls: 0,
      settled: undefined as unknown as Promise<Settled<T>>,
    };
    const countCall = () => {
      r.called = true;
      lastDeployment = deployment;
    };
    if (ctx.stream) {
      // Only a stream has a first output before its end: a non-streaming answer is waited for up
      // to the total deadline (clouds send its headers when generation ends).
      r.firstByteTimer = setTimeout(() => {
        r.firstByteTimedOut = true;
        controller.abort(FIRST_OUTPUT_TIMEOUT);
      }, settings.timeouts.firstByteMs);
    }
    const io: AttemptIO = {
      signal: controller.signal,
      send: async (call) => {
        countCall();
        const headers = span?.traceparent ? { ...call.headers, traceparent: span.traceparent } : call.headers;
        r.openCalls++;
        const response = await ctx.transport.send(headers === call.headers ? call : { ...call, headers }, {
          signal: controller.signal,
          onSettled: () => {
            r.openCalls--;
          },
          connectMs: settings.timeouts.connectMs,
          // 0: no headers timeout of undici's own; the request's total deadline aborts the attempt.
          headersMs: ctx.stream ? settings.timeouts.firstByteMs : 0,
          idleMs: settings.timeouts.idleMs,
        });
        const capacity = deployment.provider.readCapacity?.(response.headers, ctx.now());
        if (capacity) ctx.states.observeCapacity(deployment.key, capacity, ctx.now());
        return response;
      },
      firstOutput: () => clearTimeout(r.firstByteTimer),
    };
    const stopOnRequestAbort = () => controller.abort(ctx.requestSignal.reason);
    ctx.requestSignal.addEventListener('abort', stopOnRequestAbort, { once: true });
    r.settled = (async (): Promise<Settled<T>> => {
      try {
        return { running: r, ok: true, value: await attempt(deployment, io) };
      } catch (error) {
        // Credentials that could not be had are still an attempt at this deployment.
        if (error instanceof UpstreamError) countCall();
        return { running: r, ok: false, error };
      } finally {
        clearTimeout(r.firstByteTimer);
      }
    })();
    // The request-abort listener goes once the attempt is over (served attempts: at end()).
    void r.settled.then((s) => {
      if (!s.ok) ctx.requestSignal.removeEventListener('abort', stopOnRequestAbort);
    });
    running.add(r);
  };

  /** Starts the next deployment of the plan that the breaker, the attempt cap and the budget allow. */
  const startNext = (hedge: boolean): boolean => {
    while (queue.length > 0) {
      const planned = queue[0]!;
      if (attemptsStarted >= settings.retry.maxAttempts) {
        records.push(
          skipRecord({
            deployment: planned.deployment,
            kind: 'max_attempts',
            reason: `retry.maxAttempts (${settings.retry.maxAttempts}) reached`,
          }),
        );
        queue.length = 0;
        return false;
      }
      queue.shift();
      const admission = ctx.states.admit(planned.deployment.key, settings.circuitBreaker, ctx.now());
      if (!admission) {
        const view = ctx.states.view(planned.deployment.key, settings.circuitBreaker, ctx.now());
        const skip: SkippedDeployment = {
          deployment: planned.deployment,
          kind: 'circuit_open',
          reason: 'circuit open (a probe is in flight)',
          ...(view.circuitRetryAtMs === undefined ? {} : { untilMs: view.circuitRetryAtMs }),
        };
        skipped.push(skip);
        records.push(skipRecord(skip));
        continue;
      }
      if (attemptsStarted > 0 && !ctx.retryBudget.tryRetry(ctx.now())) {
        ctx.states.end(planned.deployment.key, admission.probe);
        records.push(
          skipRecord({
            deployment: planned.deployment,
            kind: 'retry_budget',
            reason: 'retry budget exhausted',
          }),
        );
        queue.length = 0;
        return false;
      }
      launch(planned, admission.probe, hedge);
      return true;
    }
    return false;
  };

  /**
   * Nothing left to try, but a deployment said it is only throttled for a moment: wait for it
   * (its retry-after plus full-jitter backoff) and try it again, if that fits the deadline.
   */
  const retryAfterThrottle = async (): Promise<boolean> => {
    if (attemptsStarted >= settings.retry.maxAttempts) return false;
    const now = ctx.now();
    const candidates = [
      ...failed.filter((f) => f.failure.kind === 'throttled').map((f) => f.deployment),
      ...ctx.plan.skipped.filter((s) => s.kind === 'throttled').map((s) => s.deployment),
    ];
    let best: { deployment: Deployment; untilMs: number } | undefined;
    for (const deployment of candidates) {
      const view = ctx.states.view(deployment.key, settings.circuitBreaker, now);
      if (view.circuit === 'open') continue;
      if (!best || view.throttledUntilMs < best.untilMs)
        best = { deployment, untilMs: view.throttledUntilMs };
    }
    if (!best) return false;
    const jitter = ctx.random() * settings.retry.backoffMs * 2 ** throttleRetries;
    const waitMs = Math.max(0, best.untilMs - now) + jitter;
    if (waitMs > settings.retry.maxThrottleWaitMs || now + waitMs >= ctx.deadlineMs) return false;
    if (!ctx.retryBudget.tryRetry(now)) return false;
    throttleRetries++;
    await sleep(waitMs, ctx.requestSignal);
    if (ctx.requestSignal.aborted) return false;
    const admission = ctx.states.admit(best.deployment.key, settings.circuitBreaker, ctx.now());
    if (!admission) return false;
    launch(
      { deployment: best.deployment, reason: `retry after throttle: waited ${Math.round(waitMs)} ms` },
      admission.probe,
      false,
    );
    return true;
  };

  /** Gives up every attempt still running (a hedge race was decided, or the request stops). */
  const abandonOthers = (reason: string, lostRace = false) => {
    for (const other of running) {
      running.delete(other);
      other.controller.abort(ATTEMPT_GIVEN_UP);
      const latencyMs = ctx.now() - other.startedAtMs;
      // A loser was silent at least this long: without it, a deployment that stalls and always
      // loses would keep its old latency average and stay first in least-latency plans.
      if (lostRace) ctx.states.slowerThan(other.deployment.key, latencyMs, ctx.stream);
      // Why it was tried stays in the record: a loser that exploration or a stale average sent
      // first must read differently from one the plan had every reason to prefer.
      const record = recordOf(other, 'aborted', latencyMs, { reason: `${reason} (${other.planned.reason})` });
      records.push(record);
      finishAttempt(other, record, 0);
    }
  };

  const finishAttempt = (r: Running<T>, record: AttemptRecord, tokens: number) => {
    const now = ctx.now();
    ctx.states.settle(r.deployment.key, r.ticket, tokens, now);
    ctx.states.end(r.deployment.key, r.probe);
    r.span?.end(record, now);
  };

  startNext(false);
  while (running.size > 0) {
    const next = await nextEvent(running, ctx, queue.length > 0 ? hedgeDelay(ctx, running) : undefined);
    if (next === 'hedge') {
      startNext(true);
      continue;
    }
    const r = next.running;
    running.delete(r);
    const latencyMs = ctx.now() - r.startedAtMs;
    if (next.ok) {
      ctx.states.succeeded(
        r.deployment.key,
        latencyMs,
        ctx.stream,
        settings.circuitBreaker,
        ctx.now(),
        r.probe,
      );
      const record = recordOf(r, 'ok', latencyMs, { status: 200, reason: r.planned.reason });
      abandonOthers(`hedge: lost to ${r.deployment.provider.id}/${r.deployment.model}`, true);
      records.push(record);
      return {
        ok: true,
        value: next.value,
        served: servedHandle(ctx, r, record, finishAttempt),
        attempts: explained(),
      };
    }
    // Whatever happened, this attempt's upstream request must not outlive it.
    r.controller.abort(ATTEMPT_GIVEN_UP);
    const error = next.error;
    if (error instanceof GatewayError) {
      // The adapter refused before sending: this cloud cannot honour the request; another may.
      unsupported ??= error;
      attemptsStarted--;
      const record = recordOf(r, 'skipped', latencyMs, {
        kind: 'unsupported',
        reason: `skipped: ${error.message}`,
      });
      records.push(record);
      finishAttempt(r, record, 0);
    } else if (!(error instanceof UpstreamError) && !r.firstByteTimedOut && ctx.abortCause() === undefined) {
      // Raised by the gateway's own code (encoding, decoding): a bug, never the cloud's fault.
      const record = recordOf(r, 'failed', latencyMs, {
        kind: 'internal',
        reason: 'internal error in the gateway',
      });
      records.push(record);
      finishAttempt(r, record, 0);
      ctx.log.error('attempt_internal_error', {
        provider: r.deployment.provider.id,
        deployment: r.deployment.model,
        error,
      });
      abandonOthers('cancelled: the request failed');
      return {
        ok: false,
        error: new GatewayError(
          'internal_error',
          'internal error in the gateway; the request was not completed',
          {
            cause: error,
          },
        ),
        attempts: explained(),
        lastDeployment: r.deployment,
      };
    } else {
      const failure = describeFailure(error, ctx, r.firstByteTimedOut);
      // A client leaving or the request's own deadline says nothing about the deployment.
      if (ctx.abortCause() === undefined) {
        ctx.states.failed(
          r.deployment.key,
          failure.kind,
          settings.circuitBreaker,
          ctx.now(),
          failure.retryAfterMs,
          r.probe,
        );
      }
      if (failure.kind === 'auth') {
        ctx.log.warn('upstream_credentials_failed', {
          provider: r.deployment.provider.id,
          deployment: r.deployment.model,
          status: failure.status,
          detail: failure.message,
        });
      }
      failed.push({ deployment: r.deployment, failure });
      const record = recordOf(r, 'failed', latencyMs, {
        kind: failure.kind,
        reason: attemptReason(failure),
        ...(failure.status === undefined ? {} : { status: failure.status }),
      });
      records.push(record);
      finishAttempt(r, record, 0);
      if (!failure.retryable) {
        abandonOthers('cancelled: the request failed');
        const err =
          ctx.abortCause() === 'shutting_down'
            ? new GatewayError('shutting_down', 'the gateway is shutting down; retry the request')
            : clientFacing(failure, r.deployment);
        return { ok: false, error: err, attempts: explained(), lastDeployment: r.deployment };
      }
    }
    if (running.size === 0 && !startNext(false) && ctx.abortCause() === undefined) await retryAfterThrottle();
  }
  return {
    ok: false,
    error: exhausted({
      modelName: ctx.modelName,
      skipped,
      records: explained(),
      failed,
      unsupported,
      abortCause: ctx.abortCause(),
      now: ctx.now(),
    }),
    attempts: explained(),
    lastDeployment,
  };
}

function recordOf<T>(
  r: Running<T>,
  outcome: AttemptRecord['outcome'],
  latencyMs: number,
  extra: Partial<AttemptRecord>,
): AttemptRecord {
  return {
    provider: r.deployment.provider.id,
    deployment: r.deployment.model,
    outcome,
    latencyMs,
    ...extra,
    ...(r.hedge ? { hedge: true } : {}),
  };
}

function servedHandle<T>(
  ctx: AttemptContext,
  r: Running<T>,
  record: AttemptRecord,
  finish: (r: Running<T>, record: AttemptRecord, tokens: number) => void,
): ServedAttempt {
  let ended = false;
  return {
    deployment: r.deployment,
    startedAtMs: r.startedAtMs,
    failedLater: (failure) => {
      if (ctx.abortCause() !== undefined) return;
      ctx.states.failed(
        r.deployment.key,
        failure.kind,
        ctx.settings.circuitBreaker,
        ctx.now(),
        failure.retryAfterMs,
        // Its first output already gave the probe's verdict: a later failure is one more outcome.
        false,
      );
    },
    end: (tokens) => {
      if (ended) return;
      ended = true;
      // A stream the client left early still has its upstream open: that one is closed here.
      if (r.openCalls !== 0) r.controller.abort(ATTEMPT_ENDED);
      finish(r, record, tokens ?? r.ticket.estimatedTokens);
    },
  };
}

/** The next attempt to settle, or 'hedge' when the hedge delay passes first. */
function nextEvent<T>(
  running: ReadonlySet<Running<T>>,
  ctx: AttemptContext,
  hedgeInMs: number | undefined,
): Promise<Settled<T> | 'hedge'> {
  // One attempt and no hedge (the common case): no race to build.
  const only = running.size === 1 && hedgeInMs === undefined ? running.values().next().value : undefined;
  if (only) return only.settled;
  const settled = Promise.race([...running].map((r) => r.settled));
  if (hedgeInMs === undefined) return settled;
  let timer: NodeJS.Timeout | undefined;
  const hedge = new Promise<'hedge'>((resolve) => {
    timer = setTimeout(() => resolve('hedge'), hedgeInMs);
  });
  const onAbort = () => clearTimeout(timer);
  ctx.requestSignal.addEventListener('abort', onAbort, { once: true });
  return Promise.race([settled, hedge]).finally(() => {
    clearTimeout(timer);
    ctx.requestSignal.removeEventListener('abort', onAbort);
  });
}

/** Milliseconds until the newest running attempt is due a hedge; undefined when hedging is off. */
function hedgeDelay<T>(ctx: AttemptContext, running: ReadonlySet<Running<T>>): number | undefined {
  if (ctx.hedgeAfterMs === undefined) return undefined;
  let newest = 0;
  for (const r of running) newest = Math.max(newest, r.startedAtMs);
  return Math.max(0, newest + ctx.hedgeAfterMs - ctx.now());
}

function describeFailure(err: unknown, ctx: AttemptContext, firstByteTimedOut: boolean): UpstreamFailure {
  const cause = ctx.abortCause();
  if (cause === 'total_timeout')
    return { kind: 'timeout', retryable: false, message: 'total timeout reached' };
  if (cause === 'client_gone') return { kind: 'connection', retryable: false, message: 'client went away' };
  if (cause === 'shutting_down') {
    return { kind: 'connection', retryable: false, message: 'the gateway is shutting down' };
  }
  if (firstByteTimedOut) {
    return {
      kind: 'timeout',
      retryable: true,
      message: `no first output within ${ctx.settings.timeouts.firstByteMs} ms (timeouts.firstByteMs)`,
    };
  }
  if (err instanceof UpstreamError) return err.failure;
  return { kind: 'protocol', retryable: true, message: 'the attempt failed' };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

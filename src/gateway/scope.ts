import type { AbortCause, AttemptContext } from '../resilience/attempts.ts';
import { type CommitmentView, planAttempts } from '../routing/plan.ts';
import type { Deployment } from '../routing/types.ts';
import type { Exchange } from '../server/exchange.ts';
import type { TokenEstimate } from './estimate.ts';
import type { ModelRuntime, Runtime } from './runtime.ts';

/** Abort reasons made once (an abort without one builds a DOMException and its stack each time). */
const STOPPED: Record<AbortCause, DOMException> = {
  client_gone: new DOMException('the client went away', 'AbortError'),
  total_timeout: new DOMException('the total deadline passed', 'AbortError'),
  shutting_down: new DOMException('the gateway is shutting down', 'AbortError'),
};

export interface RequestScope {
  context: AttemptContext;
  abortCause(): AbortCause | undefined;
  close(): void;
}

/**
 * The life of one upstream-bound request: its plan, its total deadline, and the abort that fires
 * when the client disconnects, so an abandoned stream stops costing upstream tokens.
 */
export function openRequestScope(
  rt: Runtime,
  ex: Exchange,
  model: ModelRuntime,
  deployments: readonly Deployment[],
  request: { stream: boolean; estimate: TokenEstimate },
  startSpan: AttemptContext['startSpan'],
  commitments?: ReadonlyMap<string, CommitmentView>,
): RequestScope {
  const controller = new AbortController();
  let cause: AbortCause | undefined;
  /** The first reason to stop wins; later ones do not rewrite it. */
  const stop = (reason: AbortCause) => {
    cause ??= reason;
    controller.abort(STOPPED[reason]);
  };
  const { routing } = model.model;
  const totalTimer = setTimeout(() => stop('total_timeout'), routing.timeouts.totalMs);
  const onClose = () => {
    if (!ex.res.writableFinished) stop('client_gone');
  };
  ex.res.on('close', onClose);
  // At the end of the shutdown grace period, what still runs is stopped with an error the client sees.
  const onShutdown = () => stop('shutting_down');
  const shutdownListener = rt.stopping.listen(onShutdown);
  const now = Date.now();
  const { estimate } = request;
  const plan = planAttempts({
    model: model.model,
    deployments,
    view: (d) => rt.states.view(d.key, routing.circuitBreaker, now),
    request: {
      stream: request.stream,
      estimatedInputTokens: estimate.inputTokens,
      maxOutputTokens: estimate.outputTokens,
    },
    nowMs: now,
    random: Math.random,
    rotation: model.rotation,
    requestCost: (d) => {
      const price = rt.prices.get(d.key);
      if (!price) return undefined;
      return (estimate.inputTokens * price.input + estimate.outputTokens * price.output) / 1_000_000;
    },
    commitment: (d) => commitments?.get(d.provider.id),
  });
  model.rotation = plan.rotation;
  return {
    context: {
      modelName: model.model.name,
      settings: routing,
      stream: request.stream,
      hedgeAfterMs: model.model.hedgeAfterMs,
      plan,
      states: rt.states,
      retryBudget: model.retryBudget,
      transport: rt.transport,
      estimatedTokens: estimate.inputTokens + estimate.outputTokens,
      requestSignal: controller.signal,
      abortCause: () => cause,
      deadlineMs: ex.startedAtMs + routing.timeouts.totalMs,
      now: Date.now,
      random: Math.random,
      log: rt.log,
      ...(startSpan ? { startSpan } : {}),
    },
    abortCause: () => cause,
    close: () => {
      clearTimeout(totalTimer);
      ex.res.off('close', onClose);
      rt.stopping.unlisten(shutdownListener);
    },
  };
}

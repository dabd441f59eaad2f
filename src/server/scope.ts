import { GatewayError } from '../core/errors.ts';
import { type HttpCall, UpstreamError } from '../core/upstream.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { mayUseModel, type Principal } from '../identity/keys.ts';
import type { Provider } from '../providers/types.ts';
import type {
  AbortCause,
  AttemptContext,
  AttemptIO,
  AttemptResult,
  ServedAttempt,
} from '../resilience/attempts.ts';
import { planAttempts } from '../routing/plan.ts';
import type { LogicalModel } from '../routing/types.ts';
import { readErrorBody, type UpstreamResponse } from '../transport/http.ts';
import { type Exchange, sendError } from './exchange.ts';

export function resolveModel(rt: Runtime, principal: Principal, name: string): LogicalModel {
  const model = rt.models.get(name);
  if (!model) {
    throw new GatewayError(
      'model_not_found',
      `The model \`${name}\` does not exist or you do not have access to it.`,
      {
        param: 'model',
      },
    );
  }
  if (!mayUseModel(principal, name)) {
    throw new GatewayError(
      'model_not_allowed',
      `key "${principal.keyName}" is not allowed to use model "${name}" (keys[].models)`,
      {
        param: 'model',
      },
    );
  }
  return model;
}

export interface RequestScope {
  context: AttemptContext;
  abortCause(): AbortCause | undefined;
  close(): void;
}

/**
 * The life of one upstream-bound request: its plan, its total deadline, and the abort that fires
 * when the client disconnects, so an abandoned stream stops costing upstream tokens.
 */
export function openRequestScope(rt: Runtime, ex: Exchange, model: LogicalModel): RequestScope {
  const controller = new AbortController();
  let cause: AbortCause | undefined;
  /** The first reason to stop wins; later ones do not rewrite it. */
  const stop = (reason: AbortCause) => {
    cause ??= reason;
    controller.abort();
  };
  const totalTimer = setTimeout(() => stop('total_timeout'), model.routing.timeouts.totalMs);
  const onClose = () => {
    if (!ex.res.writableFinished) stop('client_gone');
  };
  ex.res.on('close', onClose);
  // At the end of the shutdown grace period, what still runs is stopped with an error the client sees.
  const onShutdown = () => stop('shutting_down');
  rt.stopping.addEventListener('abort', onShutdown, { once: true });
  const now = Date.now();
  const plan = planAttempts(model, (d) => rt.health.view(d.key, model.routing.circuitBreaker, now), now);
  return {
    context: {
      model,
      plan,
      health: rt.health,
      retryBudget: rt.retryBudget,
      transport: rt.transport,
      requestSignal: controller.signal,
      abortCause: () => cause,
      now: Date.now,
    },
    abortCause: () => cause,
    close: () => {
      clearTimeout(totalTimer);
      ex.res.off('close', onClose);
      rt.stopping.removeEventListener('abort', onShutdown);
    },
  };
}

/** Sends one native call; a non-2xx answer becomes the cloud's classified failure. */
export async function sendClassified(
  io: AttemptIO,
  provider: Provider,
  call: HttpCall,
): Promise<UpstreamResponse> {
  const response = await io.send(call);
  if (response.status >= 300) {
    const text = await readErrorBody(response.body);
    throw new UpstreamError(provider.classifyError(response.status, response.headers, text));
  }
  return response;
}

/**
 * Writes what the attempts came to into the exchange's contract headers; on failure answers the
 * client (unless it left) and gives back undefined, on success gives back the serving attempt.
 */
export function settleAttempts<T>(
  ex: Exchange,
  scope: RequestScope,
  result: AttemptResult<T>,
): ServedAttempt | undefined {
  ex.attempts = result.attempts.filter((a) => a.outcome !== 'skipped').length;
  const deployment = result.ok ? result.served.deployment : result.lastDeployment;
  if (deployment) {
    ex.provider = deployment.provider.id;
    ex.deployment = deployment.model;
  }
  if (result.ok) return result.served;
  if (scope.abortCause() !== 'client_gone') sendError(ex, result.error);
  return undefined;
}

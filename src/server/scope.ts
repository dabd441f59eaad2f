import { GatewayError } from '../core/errors.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { mayUseModel, type Principal } from '../identity/keys.ts';
import type { AttemptContext } from '../resilience/attempts.ts';
import { planAttempts } from '../routing/plan.ts';
import type { LogicalModel } from '../routing/types.ts';
import type { Exchange } from './exchange.ts';

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
  abortCause(): 'client_gone' | 'total_timeout' | undefined;
  close(): void;
}

/**
 * The life of one upstream-bound request: its plan, its total deadline, and the abort that fires
 * when the client disconnects, so an abandoned stream stops costing upstream tokens.
 */
export function openRequestScope(rt: Runtime, ex: Exchange, model: LogicalModel): RequestScope {
  const controller = new AbortController();
  let cause: 'client_gone' | 'total_timeout' | undefined;
  const totalTimer = setTimeout(() => {
    cause ??= 'total_timeout';
    controller.abort();
  }, model.routing.timeouts.totalMs);
  const onClose = () => {
    if (ex.res.writableFinished) return;
    cause ??= 'client_gone';
    controller.abort();
  };
  ex.res.on('close', onClose);
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
    },
  };
}

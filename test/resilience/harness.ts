/** A small harness for the attempt loop: stub providers, a held transport, a context builder. */
import { Readable } from 'node:stream';
import type { RoutingSettings } from '../../src/config/schema.ts';
import { routingSchema } from '../../src/config/schema.ts';
import type { HttpCall } from '../../src/core/upstream.ts';
import type { Provider } from '../../src/providers/types.ts';
import type { AttemptContext } from '../../src/resilience/attempts.ts';
import { RetryBudget } from '../../src/resilience/retry-budget.ts';
import { DeploymentStates } from '../../src/routing/deployment-state.ts';
import { planAttempts } from '../../src/routing/plan.ts';
import type { Deployment, LogicalModel } from '../../src/routing/types.ts';
import { memoryLogger } from '../../src/telemetry/log.ts';
import type { SendOptions, Transport, UpstreamResponse } from '../../src/transport/http.ts';

export const ROUTING: RoutingSettings = routingSchema.parse({
  timeouts: { connectMs: 1000, firstByteMs: 60_000, idleMs: 60_000, totalMs: 600_000 },
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 },
  circuitBreaker: { failureThreshold: 1, cooldownMs: 1000, minimumRequests: 1000 },
});

export function stubProvider(id: string): Provider {
  const unused = (): never => {
    throw new Error('unused');
  };
  return {
    id,
    type: 'openai-compatible',
    region: 'test',
    tags: [],
    cloudName: 'stub',
    chatCall: unused,
    decodeChat: unused,
    chatStreamDecoder: unused,
    classifyError: unused,
  };
}

export function deployment(id: string, priority = 1): Deployment {
  return { key: `${id}/m`, provider: stubProvider(id), model: 'm', priority, weight: 1 };
}

export interface HeldCall {
  call: HttpCall;
  options: SendOptions;
  answer(status?: number): void;
  fail(err: Error): void;
}

/** A transport whose calls stay open until the test answers them; aborts are recorded. */
export function heldTransport() {
  const calls: HeldCall[] = [];
  const aborted: HttpCall[] = [];
  const transport = {
    send: (call: HttpCall, options: SendOptions): Promise<UpstreamResponse> =>
      new Promise((resolve, reject) => {
        options.signal.addEventListener('abort', () => {
          aborted.push(call);
          reject(Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' }));
        });
        calls.push({
          call,
          options,
          answer: (status = 200) =>
            resolve({
              status,
              headers: {},
              body: Object.assign(Readable.from([]), { text: async () => '{}' }),
            }),
          fail: reject,
        });
      }),
    close: async () => {},
  } as unknown as Transport;
  return { transport, calls, aborted };
}

export interface ContextOptions {
  model?: Partial<LogicalModel>;
  states?: DeploymentStates;
  transport?: Transport;
  now?: () => number;
  stream?: boolean;
  hedgeAfterMs?: number;
  signal?: AbortSignal;
  deadlineMs?: number;
  random?: () => number;
}

export function context(deployments: Deployment[], o: ContextOptions = {}) {
  const states = o.states ?? new DeploymentStates();
  const log = memoryLogger();
  const routing = o.model?.routing ?? ROUTING;
  const model: LogicalModel = { name: 'm', strategy: 'priority', routing, deployments, ...o.model };
  const now = o.now ?? Date.now;
  const plan = planAttempts({
    model,
    deployments,
    view: (d) => states.view(d.key, routing.circuitBreaker, now()),
    request: { stream: o.stream ?? false, estimatedInputTokens: 10, maxOutputTokens: 10 },
    nowMs: now(),
    random: () => 0.5,
    rotation: new Map(),
    requestCost: () => undefined,
    commitment: () => undefined,
  });
  const ctx: AttemptContext = {
    modelName: model.name,
    settings: routing,
    stream: o.stream ?? false,
    hedgeAfterMs: o.hedgeAfterMs,
    plan,
    states,
    retryBudget: new RetryBudget(100),
    transport: o.transport ?? heldTransport().transport,
    estimatedTokens: 20,
    requestSignal: o.signal ?? new AbortController().signal,
    abortCause: () => undefined,
    deadlineMs: o.deadlineMs ?? now() + routing.timeouts.totalMs,
    now,
    random: o.random ?? (() => 0.5),
    log,
  };
  return { ctx, states, log };
}

/**
 * One request, one lifecycle: authenticate → validate → admit (model allowlists, data boundary,
 * rate limits and budget reservation) → plan → attempts → deliver → settle → record. Each stage is
 * a plain function call; every path, errors included, ends in exactly one request record.
 */

import { costOfUsage, maxCostOfRequest } from '../accounting/cost.ts';
import { type Price, resolvePrice } from '../accounting/prices.ts';
import type { Usage } from '../core/chat.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import { describeBoundaries, partitionByBoundary } from '../governance/boundary.ts';
import { KeyRefusedError, modelRefusal, type Principal } from '../identity/keys.ts';
import { hasHardBudget } from '../limits/admission.ts';
import { commitmentStatus, planCommitments } from '../limits/commitments.ts';
import type { AttemptContext, AttemptIO, ServedAttempt } from '../resilience/attempts.ts';
import { runAttempts } from '../resilience/attempts.ts';
import type { Deployment } from '../routing/types.ts';
import type { Exchange } from '../server/exchange.ts';
import { sendError } from '../server/exchange.ts';
import type { Operation, RequestRecord } from '../telemetry/record.ts';
import type { RequestTrace } from '../telemetry/tracing.ts';
import type { TokenEstimate } from './estimate.ts';
import type { ModelRuntime, Runtime } from './runtime.ts';
import { openRequestScope, type RequestScope } from './scope.ts';

/** What the client got once a served attempt's answer was delivered. */
export interface Delivery {
  status: number;
  errorCode: string | null;
  usage: Usage | undefined;
  /** When the first output reached the client (epoch ms). */
  firstOutputAtMs: number | undefined;
  /** Only collected with `logging.bodies: true`. */
  responseBody?: string;
  /** The model the cloud said answered (prices an Azure deployment whose name says nothing). */
  responseModel?: string;
}

/** One operation (chat, embeddings) as the lifecycle sees it. */
export interface InferenceSpec<T> {
  operation: Operation;
  model: string;
  stream: boolean;
  estimate: TokenEstimate;
  requestBody?: string;
  attempt(deployment: Deployment, io: AttemptIO): Promise<T>;
  deliver(value: T, served: ServedAttempt, scope: RequestScope): Promise<Delivery>;
}

export function newRecord(ex: Exchange, operation: Operation): RequestRecord {
  return {
    id: ex.id,
    startedAtMs: ex.startedAtMs,
    operation,
    keyId: null,
    keyName: null,
    team: null,
    model: '',
    stream: false,
    status: 0,
    errorCode: null,
    provider: null,
    deployment: null,
    latencyMs: 0,
    ttftMs: null,
    inputTokens: null,
    outputTokens: null,
    cachedTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    costUsd: null,
    boundary: null,
    capacity: null,
    attempts: [],
  };
}

/**
 * Runs a data-plane request from its raw exchange to its record. `prepare` authenticates and
 * parses; whatever it throws is answered in the client's dialect and recorded like the rest.
 */
export async function handleInference<T>(
  rt: Runtime,
  ex: Exchange,
  operation: Operation,
  prepare: (record: RequestRecord) => Promise<{ principal: Principal; spec: InferenceSpec<T> }>,
): Promise<void> {
  const record = newRecord(ex, operation);
  let trace: RequestTrace | undefined;
  try {
    const { principal, spec } = await prepare(record);
    const traceparent = ex.req.headers.traceparent;
    trace = rt.tracing.startRequest({
      id: ex.id,
      operation,
      model: spec.model,
      startMs: record.startedAtMs,
      ...(typeof traceparent === 'string' ? { traceparent } : {}),
    });
    await serve(rt, ex, principal, spec, record, trace);
  } catch (err) {
    const error = toGatewayError(err);
    if (error.code === 'internal_error') rt.log.error('request_failed', { id: ex.id, error: err });
    if (err instanceof KeyRefusedError) {
      record.keyId = err.keyId;
      record.keyName = err.keyName;
    }
    record.status = error.status;
    record.errorCode = error.code;
    sendError(ex, error);
  } finally {
    record.latencyMs = Date.now() - record.startedAtMs;
    trace?.end(record);
    rt.observeRequest(record);
  }
}

/** nginx's status for a request whose client left before the answer: recorded, never sent. */
const CLIENT_CLOSED_REQUEST = 499;

/** A deployment's price: configured or from the catalog by its model id, else by the model the cloud reported. */
export function priceOf(
  rt: Runtime,
  deployment: Deployment,
  responseModel: string | undefined,
): Price | undefined {
  const known = rt.prices.get(deployment.key);
  if (known || responseModel === undefined) return known;
  return resolvePrice(deployment.price, deployment.provider.type, [deployment.model, responseModel]);
}

/** The attempt loop's tracing seam, onto this request's trace. */
function attemptSpans(trace: RequestTrace): AttemptContext['startSpan'] {
  return (deployment, hedge, startMs) => {
    const span = trace.startAttempt({
      provider: deployment.provider.id,
      providerType: deployment.provider.type,
      deployment: deployment.model,
      startMs,
      hedge,
    });
    return {
      traceparent: span.traceparent,
      end: (attempt, endMs) =>
        span.end({
          outcome: attempt.outcome,
          ...(attempt.status === undefined ? {} : { status: attempt.status }),
          ...(attempt.reason === undefined ? {} : { reason: attempt.reason }),
          endMs,
        }),
    };
  };
}

export function identify(record: RequestRecord, principal: Principal): void {
  record.keyId = principal.keyId;
  record.keyName = principal.keyName;
  record.team = principal.team?.name ?? null;
}

export function resolveModel(rt: Runtime, principal: Principal, name: string): ModelRuntime {
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
  const refusal = modelRefusal(principal, name);
  if (refusal) throw new GatewayError('model_not_allowed', refusal, { param: 'model' });
  return model;
}

/**
 * What a principal's boundaries allow, per model, worked out once: a principal is a new object
 * whenever its key or team changes, and a model's deployments are fixed at start-up.
 */
const insideBoundaries = new WeakMap<Principal, Map<ModelRuntime, readonly Deployment[]>>();
const boundaryText = new WeakMap<Principal, string | null>();

function boundaryDescription(principal: Principal): string | null {
  let text = boundaryText.get(principal);
  if (text === undefined) {
    text = describeBoundaries(principal);
    boundaryText.set(principal, text);
  }
  return text;
}

/** The model's deployments inside the principal's data boundaries; a 403 naming the rules when none is. */
export function eligibleDeployments(model: ModelRuntime, principal: Principal): readonly Deployment[] {
  let perModel = insideBoundaries.get(principal);
  const known = perModel?.get(model);
  if (known) return known;
  const { allowed, refused } = partitionByBoundary(principal, model.model.deployments);
  if (allowed.length > 0) {
    if (!perModel) {
      perModel = new Map();
      insideBoundaries.set(principal, perModel);
    }
    // Shared by every request of this principal: frozen, so no one can change it for the others.
    perModel.set(model, Object.freeze(allowed));
    return allowed;
  }
  throw new GatewayError(
    'boundary_violation',
    `no deployment of ${model.model.name} is inside the data boundary: ${refused.map((r) => r.rule).join('; ')}`,
    { param: 'model' },
  );
}

async function serve<T>(
  rt: Runtime,
  ex: Exchange,
  principal: Principal,
  spec: InferenceSpec<T>,
  record: RequestRecord,
  trace: RequestTrace,
): Promise<void> {
  record.model = spec.model;
  record.stream = spec.stream;
  if (spec.requestBody !== undefined) record.requestBody = spec.requestBody;
  const model = resolveModel(rt, principal, spec.model);
  record.boundary = boundaryDescription(principal);
  const { deployments, maxCostUsd } = admissibleDeployments(rt, model, principal, spec);
  const admission = await rt.limits.admit(principal, {
    id: ex.id,
    estimate: spec.estimate,
    maxCostUsd,
    totalMs: model.model.routing.timeouts.totalMs,
  });
  Object.assign(ex.headers, admission.headers);
  let scope: RequestScope | undefined;
  let served: ServedAttempt | undefined;
  let usage: Usage | undefined;
  // From here on the reservation is settled whatever happens (a throw included).
  try {
    const commitments =
      model.model.strategy === 'commitment-first'
        ? planCommitments(
            await commitmentStatus(
              rt.config,
              rt.limits,
              new Set(deployments.map((d) => d.provider.id)),
            ).catch(() => []),
          )
        : undefined;
    scope = openRequestScope(rt, ex, model, deployments, spec, attemptSpans(trace), commitments);
    const result = await runAttempts(scope.context, spec.attempt);
    record.attempts = result.attempts;
    ex.attempts = result.attempts.filter((a) => a.outcome !== 'skipped').length;
    const deployment = result.ok ? result.served.deployment : result.lastDeployment;
    if (deployment) {
      ex.provider = deployment.provider.id;
      ex.deployment = deployment.model;
      record.provider = deployment.provider.id;
      record.deployment = deployment.model;
    }
    if (!result.ok) {
      if (scope.abortCause() === 'client_gone') {
        record.status = CLIENT_CLOSED_REQUEST;
        record.errorCode = 'client_gone';
      } else {
        record.status = result.error.status;
        record.errorCode = result.error.code;
        sendError(ex, result.error);
      }
      return;
    }
    served = result.served;
    if (commitments) {
      record.capacity = commitments.get(served.deployment.provider.id)?.available
        ? 'commitment'
        : 'pay-as-you-go';
    }
    const delivery = await spec.deliver(result.value, served, scope);
    usage = delivery.usage;
    record.status = delivery.status;
    record.errorCode = delivery.errorCode;
    if (delivery.firstOutputAtMs !== undefined) record.ttftMs = delivery.firstOutputAtMs - record.startedAtMs;
    if (delivery.responseBody !== undefined) record.responseBody = delivery.responseBody;
    if (usage) {
      record.inputTokens = usage.promptTokens;
      record.outputTokens = usage.completionTokens;
      record.cachedTokens = usage.cachedTokens ?? null;
      record.cacheWriteTokens = usage.cacheWriteTokens ?? null;
      record.reasoningTokens = usage.reasoningTokens ?? null;
      const price = priceOf(rt, served.deployment, delivery.responseModel);
      record.costUsd = price ? costOfUsage(usage, price) : null;
    }
  } finally {
    served?.end(usage ? usage.totalTokens : undefined);
    scope?.close();
    // After the answer: settlement never holds up the client.
    admission
      .settle({
        served: served !== undefined,
        usage,
        costUsd: record.costUsd,
        providerId: served?.deployment.provider.id,
      })
      .catch((err: unknown) => rt.log.error('settlement_failed', { id: ex.id, error: err }));
    if (served) void rt.limits.recordProviderUse(served.deployment.provider.id, usage, record.costUsd ?? 0);
  }
}

/**
 * The deployments the request may use, and the most it can cost. Under a hard budget only
 * deployments with a known price qualify (a request that cannot be priced is never waved through),
 * and the bound is the dearest of them: input at one token per byte, output at max tokens.
 */
function admissibleDeployments<T>(
  rt: Runtime,
  model: ModelRuntime,
  principal: Principal,
  spec: InferenceSpec<T>,
): { deployments: readonly Deployment[]; maxCostUsd: number } {
  const inside = eligibleDeployments(model, principal);
  if (!hasHardBudget(principal)) return { deployments: inside, maxCostUsd: 0 };
  let maxCostUsd = 0;
  const priced = inside.filter((d) => {
    const price = rt.prices.get(d.key);
    if (!price) return false;
    maxCostUsd = Math.max(
      maxCostUsd,
      maxCostOfRequest(price, spec.estimate.inputTokensMax, spec.estimate.maxOutputTokens),
    );
    return true;
  });
  if (priced.length === 0) {
    throw new GatewayError(
      'insufficient_quota',
      `no deployment of ${model.model.name} has a known price, and a hard budget admits only requests it can price (set price: on the deployment)`,
      { status: 403, param: 'model' },
    );
  }
  return { deployments: priced, maxCostUsd };
}

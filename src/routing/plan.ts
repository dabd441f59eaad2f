import type {
  Deployment,
  DeploymentView,
  LogicalModel,
  Plan,
  PlannedAttempt,
  SkippedDeployment,
} from './types.ts';

/** What the planner needs to know about the request itself. */
export interface PlanRequest {
  stream: boolean;
  /** Upper-bound estimate of the prompt's tokens. */
  estimatedInputTokens: number;
  /** The request's max output tokens (or the model's default maximum). */
  maxOutputTokens: number;
}

/** Whether a deployment's provider still has committed capacity (commitment-first routing). */
export interface CommitmentView {
  /** True while the commitment has room left this period (or this minute, for provisioned tpm). */
  available: boolean;
  /** Shown in the plan's reason: `$1,234 of $20,000 left`. */
  detail: string;
}

export interface PlanInput {
  model: LogicalModel;
  /** The deployments the request may use (allowlist and data boundary already applied). */
  deployments: readonly Deployment[];
  view(deployment: Deployment): DeploymentView;
  request: PlanRequest;
  nowMs: number;
  /** [0, 1); injected so plans are reproducible in tests. */
  random(): number;
  /**
   * Smooth weighted round-robin state (deployment key → current weight), kept by the caller per
   * model between plans; the plan answers the next state.
   */
  rotation: ReadonlyMap<string, number>;
  /** The price of this request at a deployment in USD, or undefined when it has no price. */
  requestCost(deployment: Deployment): number | undefined;
  commitment(deployment: Deployment): CommitmentView | undefined;
}

export interface PlanOutput extends Plan {
  rotation: Map<string, number>;
}

type Candidate = { deployment: Deployment; view: DeploymentView };

/** Share of least-latency plans that try a random other deployment first, so a recovered or new one gets noticed. */
export const EXPLORATION_RATE = 0.05;

/**
 * Data in, ordered attempts out. Deployments whose circuit is open, that the cloud said are out of
 * capacity until a time still ahead, or whose configured rpm/tpm is used up over the last minute
 * are skipped with their reason; the rest are ordered by the model's strategy, and every place in
 * the order says why it is there.
 */
export function planAttempts(input: PlanInput): PlanOutput {
  const skipped: SkippedDeployment[] = [];
  const eligible: Candidate[] = [];
  const views = new Map<Deployment, DeploymentView>();
  for (const deployment of input.deployments) {
    const view = input.view(deployment);
    views.set(deployment, view);
    const skip = ineligibility(deployment, view, input);
    if (skip) skipped.push(skip);
    else eligible.push({ deployment, view });
  }
  const rotation = new Map(input.rotation);
  const ordered = order(input, eligible, rotation);
  const first = eligible.find((c) => c.deployment === ordered[0]?.deployment);
  if (first) {
    for (const s of skipped) {
      const candidate = { deployment: s.deployment, view: views.get(s.deployment)! };
      if (rankedBehind(input, candidate, first)) s.behind = true;
    }
  }
  return { attempts: ordered, skipped, rotation };
}

/** Whether the strategy puts a skipped deployment after the chosen one by its own measure. */
function rankedBehind(input: PlanInput, skipped: Candidate, chosen: Candidate): boolean {
  switch (input.model.strategy) {
    case 'weighted':
      return false;
    case 'least-latency': {
      const [a, b] = [latencyOf(input, skipped), latencyOf(input, chosen)];
      return a !== undefined && b !== undefined && a > b;
    }
    case 'lowest-cost':
      return costOf(input, skipped) > costOf(input, chosen);
    case 'least-busy': {
      const capacity = busyCapacity([skipped, chosen]);
      return load(skipped, capacity) > load(chosen, capacity);
    }
    case 'commitment-first': {
      const committed = (c: Candidate) => input.commitment(c.deployment)?.available === true;
      if (committed(chosen) !== committed(skipped)) return committed(chosen);
      return skipped.deployment.priority > chosen.deployment.priority;
    }
    default:
      return skipped.deployment.priority > chosen.deployment.priority;
  }
}

function ineligibility(d: Deployment, view: DeploymentView, input: PlanInput): SkippedDeployment | undefined {
  const now = input.nowMs;
  if (view.circuit === 'open') {
    return {
      deployment: d,
      kind: 'circuit_open',
      reason: 'circuit open',
      ...(view.circuitRetryAtMs === undefined ? {} : { untilMs: view.circuitRetryAtMs }),
    };
  }
  if (view.throttledUntilMs > now) {
    return {
      deployment: d,
      kind: 'throttled',
      reason: `throttled by the cloud for another ${view.throttledUntilMs - now}ms`,
      untilMs: view.throttledUntilMs,
    };
  }
  if (d.rpm !== undefined && view.rpmUsed >= d.rpm) {
    return {
      deployment: d,
      kind: 'capacity',
      reason: `rpm ${view.rpmUsed}/${d.rpm}`,
      untilMs: view.windowFreesAtMs,
    };
  }
  const tokens = input.request.estimatedInputTokens + input.request.maxOutputTokens;
  // A request larger than the whole tpm still goes to an idle deployment: it could never run otherwise.
  if (d.tpm !== undefined && view.tpmUsed > 0 && view.tpmUsed + tokens > d.tpm) {
    return {
      deployment: d,
      kind: 'capacity',
      reason: `tpm ${Math.round(view.tpmUsed)}+${tokens}/${d.tpm}`,
      untilMs: view.windowFreesAtMs,
    };
  }
  return undefined;
}

function order(input: PlanInput, eligible: Candidate[], rotation: Map<string, number>): PlannedAttempt[] {
  if (eligible.length === 0) return [];
  switch (input.model.strategy) {
    case 'weighted':
      return weighted(eligible, rotation);
    case 'least-latency':
      return leastLatency(input, eligible);
    case 'lowest-cost':
      return lowestCost(input, eligible);
    case 'least-busy':
      return leastBusy(eligible);
    case 'commitment-first':
      return commitmentFirst(input, eligible, rotation);
    default:
      return priority(eligible, rotation);
  }
}

/** Lower priority first; within one priority, weights split the traffic (smooth round-robin). */
function priority(
  eligible: Candidate[],
  rotation: Map<string, number>,
  label = 'priority',
): PlannedAttempt[] {
  const levels = [...new Set(eligible.map((c) => c.deployment.priority))].sort((a, b) => a - b);
  const out: PlannedAttempt[] = [];
  for (const level of levels) {
    const group = eligible.filter((c) => c.deployment.priority === level).map((c) => c.deployment);
    for (const deployment of smoothRoundRobin(group, rotation)) {
      out.push({ deployment, reason: placeReason(out.length, `${label} ${level}`) });
    }
  }
  return out;
}

/** By weight over every eligible deployment (smooth: no bursts to one deployment), then by priority. */
function weighted(eligible: Candidate[], rotation: Map<string, number>): PlannedAttempt[] {
  const [first, ...rest] = smoothRoundRobin(
    eligible.map((c) => c.deployment),
    rotation,
  );
  if (!first) return [];
  const total = eligible.reduce((sum, c) => sum + c.deployment.weight, 0);
  const share = (d: Deployment) => `${Math.round((100 * d.weight) / (total || 1))}%`;
  rest.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  return [first, ...rest].map((deployment, i) => ({
    deployment,
    reason: placeReason(i, `weighted ${share(deployment)}`),
  }));
}

/** Time to first token for streams, whole latency otherwise, each falling back on the other. */
function latencyOf(input: PlanInput, c: Candidate): number | undefined {
  return input.request.stream
    ? (c.view.ttftEwmaMs ?? c.view.latencyEwmaMs)
    : (c.view.latencyEwmaMs ?? c.view.ttftEwmaMs);
}

function leastLatency(input: PlanInput, eligible: Candidate[]): PlannedAttempt[] {
  const latency = (c: Candidate) => latencyOf(input, c);
  // Unmeasured deployments go first: that is how a new or recovered deployment gets its first samples.
  const sorted = [...eligible].sort(
    (a, b) => (latency(a) ?? -1) - (latency(b) ?? -1) || a.deployment.priority - b.deployment.priority,
  );
  if (sorted.length > 1 && latency(sorted[0]!) !== undefined && input.random() < EXPLORATION_RATE) {
    const pick = 1 + Math.floor(input.random() * (sorted.length - 1));
    const [explored] = sorted.splice(pick, 1);
    if (explored) sorted.unshift(explored);
    return sorted.map((c, i) => ({
      deployment: c.deployment,
      reason:
        i === 0 ? 'chosen: least-latency exploration' : placeReason(i, `least-latency ${ms(latency(c))}`),
    }));
  }
  const runnerUp = sorted[1] ? latency(sorted[1]) : undefined;
  return sorted.map((c, i) => ({
    deployment: c.deployment,
    reason:
      i === 0
        ? `chosen: least-latency ${ms(latency(c))}${sorted.length > 1 ? ` vs ${ms(runnerUp)}` : ''}`
        : placeReason(i, `least-latency ${ms(latency(c))}`),
  }));
}

/** The request's price at a deployment; unpriced is infinitely dear (the policy wants a known price). */
function costOf(input: PlanInput, c: Candidate): number {
  return input.requestCost(c.deployment) ?? Number.POSITIVE_INFINITY;
}

function lowestCost(input: PlanInput, eligible: Candidate[]): PlannedAttempt[] {
  const costs = new Map(eligible.map((c) => [c.deployment.key, input.requestCost(c.deployment)]));
  const cost = (c: Candidate) => costs.get(c.deployment.key);
  // Unpriced deployments go last: the cheapest known price is the policy's intent.
  const sorted = [...eligible].sort(
    (a, b) =>
      (cost(a) ?? Number.POSITIVE_INFINITY) - (cost(b) ?? Number.POSITIVE_INFINITY) ||
      a.deployment.priority - b.deployment.priority,
  );
  const runnerUp = sorted[1] ? cost(sorted[1]) : undefined;
  return sorted.map((c, i) => ({
    deployment: c.deployment,
    reason:
      i === 0
        ? `chosen: lowest-cost ${usd(cost(c))}${sorted.length > 1 ? ` vs ${usd(runnerUp)}` : ''}`
        : placeReason(i, `lowest-cost ${usd(cost(c))}`),
  }));
}

/** A deployment's capacity among `group`: its rpm where every one has one, else its weight. */
function busyCapacity(group: Candidate[]): (d: Deployment) => number {
  const byRpm = group.every((c) => c.deployment.rpm !== undefined);
  return (d) => (byRpm ? (d.rpm ?? 1) : d.weight) || 1;
}

function load(c: Candidate, capacity: (d: Deployment) => number): number {
  return c.view.inFlight / capacity(c.deployment);
}

/** Fewest in-flight requests relative to capacity (rpm where every deployment has one, else weight). */
function leastBusy(eligible: Candidate[]): PlannedAttempt[] {
  const capacity = busyCapacity(eligible);
  const sorted = [...eligible].sort(
    (a, b) => load(a, capacity) - load(b, capacity) || a.deployment.priority - b.deployment.priority,
  );
  return sorted.map((c, i) => ({
    deployment: c.deployment,
    reason: placeReason(i, `least-busy ${c.view.inFlight} in flight`),
  }));
}

/** Committed capacity first (by priority), then pay-as-you-go (by priority). */
function commitmentFirst(
  input: PlanInput,
  eligible: Candidate[],
  rotation: Map<string, number>,
): PlannedAttempt[] {
  const committed = eligible.filter((c) => input.commitment(c.deployment)?.available === true);
  const rest = eligible.filter((c) => input.commitment(c.deployment)?.available !== true);
  const out = priority(committed, rotation, 'commitment, priority').map((a) => ({
    ...a,
    reason: `${a.reason} (${input.commitment(a.deployment)?.detail ?? ''})`,
  }));
  for (const a of priority(rest, rotation, 'pay-as-you-go, priority')) {
    out.push({
      deployment: a.deployment,
      reason: placeReason(out.length, a.reason.replace(/^[a-z]+( #\d+)?: /, '')),
    });
  }
  return out;
}

/**
 * Nginx's smooth weighted round-robin: every pick adds each weight to its current value, takes
 * the largest, and subtracts the total from it. Weights 3:1 give a, a, b, a rather than a burst
 * of three. Answers the whole group: the pick first, the rest by weight, then configuration order.
 */
export function smoothRoundRobin(group: Deployment[], rotation: Map<string, number>): Deployment[] {
  if (group.length <= 1) return group;
  const total = group.reduce((sum, d) => sum + d.weight, 0);
  if (total <= 0) return group;
  let best: Deployment | undefined;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const d of group) {
    const value = (rotation.get(d.key) ?? 0) + d.weight;
    rotation.set(d.key, value);
    if (value > bestValue) {
      best = d;
      bestValue = value;
    }
  }
  if (!best) return group;
  rotation.set(best.key, bestValue - total);
  const rest = group.filter((d) => d !== best).sort((a, b) => b.weight - a.weight);
  return [best, ...rest];
}

function placeReason(index: number, why: string): string {
  return index === 0 ? `chosen: ${why}` : `fallback #${index}: ${why}`;
}

function ms(value: number | undefined): string {
  return value === undefined ? 'unmeasured' : `${Math.round(value)}ms`;
}

/**
 * `$0.0021`: four decimals, more when the price is smaller than that (an embedding of a few words
 * costs millionths of a dollar), so two prices never both read `$0.0000`.
 */
function usd(value: number | undefined): string {
  if (value === undefined) return 'unpriced';
  const decimals = value > 0 && value < 0.0001 ? Math.min(12, 1 - Math.floor(Math.log10(value))) : 4;
  return `$${value.toFixed(decimals)}`;
}

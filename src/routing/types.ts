import type { PriceConfig, RoutingSettings, RoutingStrategy } from '../config/schema.ts';
import type { Provider } from '../providers/types.ts';

/** A logical model's deployment, resolved against its provider. */
export interface Deployment {
  /** `providerId/model`: unique across the gateway, used as the state key. */
  key: string;
  provider: Provider;
  /** Deployment name or model id at the provider. */
  model: string;
  priority: number;
  weight: number;
  /** Configured capacity: requests and tokens per minute. */
  rpm?: number;
  tpm?: number;
  /** The configured price override (USD per million tokens). */
  price?: PriceConfig;
}

/** A client-facing model name and where it can run. */
export interface LogicalModel {
  name: string;
  strategy: RoutingStrategy;
  routing: RoutingSettings;
  /** Start the next eligible attempt when the current one has produced no first output by then. */
  hedgeAfterMs?: number;
  deployments: Deployment[];
}

export type Circuit = 'closed' | 'open' | 'half-open';

/** What the planner knows about a deployment right now. */
export interface DeploymentView {
  circuit: Circuit;
  /** When an open circuit may take a probe (epoch ms); undefined while closed. */
  circuitRetryAtMs: number | undefined;
  /** Until when the deployment said it is out of capacity (429 retry-after, or remaining headers at 0). */
  throttledUntilMs: number;
  inFlight: number;
  /** Moving averages: time to first output of streams, and whole latency of non-streaming answers. */
  ttftEwmaMs: number | undefined;
  latencyEwmaMs: number | undefined;
  /** Traffic sent in the last minute (requests, and tokens: estimates settled to real usage). */
  rpmUsed: number;
  tpmUsed: number;
  /** When the oldest request/token in the minute window leaves it (epoch ms). */
  windowFreesAtMs: number;
}

/** Why a deployment is not tried. */
export type SkipKind =
  | 'circuit_open'
  | 'throttled'
  | 'capacity'
  | 'unsupported'
  | 'retry_budget'
  | 'max_attempts';

export interface PlannedAttempt {
  deployment: Deployment;
  /** Why it is in the plan at this place: `chosen: priority 1`, `fallback: lowest-cost $0.0094`. */
  reason: string;
}

export interface SkippedDeployment {
  deployment: Deployment;
  kind: SkipKind;
  /** Human-readable, e.g. `rpm 600/600`, `circuit open`. */
  reason: string;
  /** When it may take requests again (epoch ms), where known. */
  untilMs?: number;
  /**
   * The strategy would have ranked it after the first attempt anyway (dearer, slower, busier, a
   * later priority): serving elsewhere is no spillover, and its record goes after the attempts.
   */
  behind?: boolean;
}

export interface Plan {
  /** Deployments to try, in order. */
  attempts: PlannedAttempt[];
  /** Deployments left out, and why: part of explaining the decision. */
  skipped: SkippedDeployment[];
}

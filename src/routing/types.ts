import type { RoutingSettings } from '../config/schema.ts';
import type { Provider } from '../providers/types.ts';

/** A logical model's deployment, resolved against its provider. */
export interface Deployment {
  /** `providerId/model`: unique across the gateway, used as the health-state key. */
  key: string;
  provider: Provider;
  /** Deployment name or model id at the provider. */
  model: string;
  priority: number;
  weight: number;
  rpm?: number;
  tpm?: number;
}

/** A client-facing model name and where it can run. */
export interface LogicalModel {
  name: string;
  strategy: string;
  routing: RoutingSettings;
  deployments: Deployment[];
}

/** What the planner knows about a deployment's recent behaviour. */
export interface DeploymentHealthView {
  circuit: 'closed' | 'open' | 'half-open';
  /** Until when the deployment said it is out of capacity (429 retry-after), in epoch ms. */
  throttledUntilMs: number;
  inFlight: number;
  latencyEwmaMs: number | undefined;
}

export type SkipReason = 'circuit_open' | 'throttled';

export interface Plan {
  /** Deployments to try, in order. */
  attempts: Deployment[];
  /** Deployments left out, and why: part of explaining the decision. */
  skipped: { deployment: Deployment; reason: SkipReason; untilMs?: number }[];
}

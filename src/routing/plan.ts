import type { Deployment, DeploymentHealthView, LogicalModel, Plan } from './types.ts';

/**
 * Data in, ordered attempts out. Deployments whose circuit is open, or that told us they are out
 * of capacity until a time still ahead, are skipped with their reason; the rest are ordered by the
 * model's strategy. Only `priority` exists so far: lower first, configuration order on ties.
 */
export function planAttempts(
  model: LogicalModel,
  health: (deployment: Deployment) => DeploymentHealthView,
  nowMs: number,
): Plan {
  const plan: Plan = { attempts: [], skipped: [] };
  for (const deployment of model.deployments) {
    const view = health(deployment);
    if (view.circuit === 'open') plan.skipped.push({ deployment, reason: 'circuit_open' });
    else if (view.throttledUntilMs > nowMs) {
      plan.skipped.push({ deployment, reason: 'throttled', untilMs: view.throttledUntilMs });
    } else plan.attempts.push(deployment);
  }
  // Array.prototype.sort is stable, so equal priorities keep configuration order.
  plan.attempts.sort((a, b) => a.priority - b.priority);
  return plan;
}

import { type Config, resolveModelRouting } from '../config/schema.ts';
import { KeyIndex } from '../identity/keys.ts';
import { createProvider } from '../providers/registry.ts';
import type { Provider } from '../providers/types.ts';
import { RetryBudget } from '../resilience/retry-budget.ts';
import { HealthTracker } from '../routing/health.ts';
import type { Deployment, LogicalModel } from '../routing/types.ts';
import { Transport } from '../transport/http.ts';

/** Everything a request needs, built once from the configuration. */
export interface Runtime {
  config: Config;
  keys: KeyIndex;
  providers: ReadonlyMap<string, Provider>;
  models: ReadonlyMap<string, LogicalModel>;
  health: HealthTracker;
  retryBudget: RetryBudget;
  transport: Transport;
}

export function buildRuntime(config: Config): Runtime {
  const providers = new Map(config.providers.map((p) => [p.id, createProvider(p)]));
  const models = new Map<string, LogicalModel>();
  for (const m of config.models) {
    const deployments: Deployment[] = m.deployments.map((d) => {
      const provider = providers.get(d.provider);
      if (!provider) throw new Error(`models.${m.name}: unknown provider ${d.provider}`);
      return {
        key: `${provider.id}/${d.model}`,
        provider,
        model: d.model,
        priority: d.priority,
        weight: d.weight,
        ...(d.rpm === undefined ? {} : { rpm: d.rpm }),
        ...(d.tpm === undefined ? {} : { tpm: d.tpm }),
      };
    });
    models.set(m.name, {
      name: m.name,
      strategy: m.strategy,
      routing: resolveModelRouting(config.routing, m.routing),
      deployments,
    });
  }
  return {
    config,
    keys: new KeyIndex(config.keys),
    providers,
    models,
    health: new HealthTracker(),
    retryBudget: new RetryBudget(config.routing.retry.budgetPercent),
    transport: new Transport(),
  };
}

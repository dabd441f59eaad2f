import { setMaxListeners } from 'node:events';
import { type Config, resolveModelRouting } from '../config/schema.ts';
import { KeyIndex } from '../identity/keys.ts';
import { createProvider } from '../providers/registry.ts';
import { createImageLoader } from '../providers/shared/images.ts';
import type { Provider, ProviderContext } from '../providers/types.ts';
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
  /** Aborted when the shutdown grace period ends: requests still running are stopped with an error. */
  stopping: AbortSignal;
  stop(): void;
}

/**
 * Configuration the contract accepts but this build does not act on yet. Said out loud at start-up
 * rather than silently ignored, so nobody believes a budget or a boundary protects them.
 */
export function unimplementedSettings(config: Config): string[] {
  const notes: string[] = [];
  config.models.forEach((m, i) => {
    if (m.strategy !== 'priority')
      notes.push(`models[${i}].strategy ${m.strategy}: not implemented yet; routing by priority`);
    if (m.hedge) notes.push(`models[${i}].hedge: not implemented yet; no hedged requests are sent`);
  });
  const governed = [...config.teams, ...config.keys].some((x) => x.rpm || x.tpm || x.budget || x.boundary);
  if (governed) notes.push('rpm, tpm, budget and boundary limits on keys and teams: not enforced yet');
  if (config.redis) notes.push('redis: shared state is not used yet; each replica keeps its own');
  return notes;
}

export function buildRuntime(config: Config): Runtime {
  const context: ProviderContext = {
    loadImage: createImageLoader(config.server.imageFetch),
    env: process.env,
  };
  const providers = new Map(config.providers.map((p) => [p.id, createProvider(p, context)]));
  const models = new Map<string, LogicalModel>();
  const stopping = new AbortController();
  // Every request in flight listens for the stop: far more than the default warning threshold of 10.
  setMaxListeners(0, stopping.signal);
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
    stopping: stopping.signal,
    stop: () => stopping.abort(),
  };
}

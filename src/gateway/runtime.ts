import { type Price, resolvePrice } from '../accounting/prices.ts';
import { type Config, resolveModelRouting } from '../config/schema.ts';
import { hashKey, Identity } from '../identity/keys.ts';
import { Limits } from '../limits/admission.ts';
import { WebhookSender } from '../limits/alerts.ts';
import { MemoryLimitStore } from '../limits/memory.ts';
import { SharedDeploymentUsage } from '../limits/shared-usage.ts';
import type { LimitStore } from '../limits/types.ts';
import { createProvider } from '../providers/registry.ts';
import { createImageLoader } from '../providers/shared/images.ts';
import type { Provider, ProviderContext } from '../providers/types.ts';
import { RetryBudget } from '../resilience/retry-budget.ts';
import { DeploymentStates } from '../routing/deployment-state.ts';
import type { Deployment, LogicalModel } from '../routing/types.ts';
import { MemoryStore } from '../state/memory.ts';
import type { Store } from '../state/types.ts';
import { createLogger, type Logger } from '../telemetry/log.ts';
import { type DeploymentGaugeView, GatewayMetrics } from '../telemetry/metrics.ts';
import type { RequestRecord } from '../telemetry/record.ts';
import { RequestLogWriter, type RetentionJob, startRetention } from '../telemetry/request-log-writer.ts';
import { createTracing, type Tracing } from '../telemetry/tracing.ts';
import { Transport } from '../transport/http.ts';
import { StopSignal } from './stop-signal.ts';

/** Per logical model: its retry budget and its weighted round-robin position. */
export interface ModelRuntime {
  model: LogicalModel;
  retryBudget: RetryBudget;
  rotation: Map<string, number>;
}

/** Everything a request needs, built once from the configuration. */
export interface Runtime {
  /** The configuration, with every client key's plaintext and the admin key removed. */
  config: Config;
  /** SHA-256 of the admin key; undefined: the admin API refuses everything. */
  adminKeyHash: string | undefined;
  identity: Identity;
  providers: ReadonlyMap<string, Provider>;
  models: ReadonlyMap<string, ModelRuntime>;
  states: DeploymentStates;
  transport: Transport;
  store: Store;
  /** Key and team rate limits and budgets (in process, or in Redis with `redis:`). */
  limits: Limits;
  requestLog: RequestLogWriter;
  metrics: GatewayMetrics;
  tracing: Tracing;
  log: Logger;
  /** The price of a deployment known before any answer (configured, or the catalog's); see `priceOf`. */
  prices: ReadonlyMap<string, Price | undefined>;
  /** Requests being handled now (the server counts them). */
  inFlight(): number;
  /** Every finished request's record goes here: request log, metrics, trace. */
  observeRequest(record: RequestRecord): void;
  /** Fires when the shutdown grace period ends: requests still running are stopped with an error. */
  stopping: StopSignal;
  stop(): void;
  /** Flushes the request log and releases what the runtime holds; after the server drained. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  log?: Logger;
  /** The store to use instead of opening `config.storage` (tests, embedding). */
  store?: Store;
  /** The limit store (in process by default; Redis when `redis:` is configured). */
  limitStore?: LimitStore;
  inFlight?: () => number;
}

/** How often expired request records are deleted. */
const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export function buildRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const log = options.log ?? createLogger();
  const context: ProviderContext = {
    loadImage: createImageLoader(config.server.imageFetch),
    env: process.env,
  };
  const providers = new Map(config.providers.map((p) => [p.id, createProvider(p, context)]));
  const models = new Map<string, ModelRuntime>();
  const prices = new Map<string, Price | undefined>();
  const stopping = new StopSignal();
  for (const m of config.models) {
    const deployments: Deployment[] = m.deployments.map((d) => {
      const provider = providers.get(d.provider);
      if (!provider) throw new Error(`models.${m.name}: unknown provider ${d.provider}`);
      const deployment: Deployment = {
        key: `${provider.id}/${d.model}`,
        provider,
        model: d.model,
        priority: d.priority,
        weight: d.weight,
        ...(d.rpm === undefined ? {} : { rpm: d.rpm }),
        ...(d.tpm === undefined ? {} : { tpm: d.tpm }),
        ...(d.price === undefined ? {} : { price: d.price }),
      };
      prices.set(deployment.key, resolvePrice(d.price, provider.type, [d.model]));
      return deployment;
    });
    const routing = resolveModelRouting(config.routing, m.routing);
    models.set(m.name, {
      model: {
        name: m.name,
        strategy: m.strategy,
        routing,
        ...(m.hedge ? { hedgeAfterMs: m.hedge.afterMs } : {}),
        deployments,
      },
      retryBudget: new RetryBudget(routing.retry.budgetPercent),
      rotation: new Map(),
    });
  }
  const store = options.store ?? new MemoryStore();
  const identity = new Identity(config.keys, config.teams, store);
  identity.start();
  const transport = new Transport();
  const limitStore = options.limitStore ?? new MemoryLimitStore();
  const inFlight = options.inFlight ?? (() => 0);
  const requestLog = new RequestLogWriter(store, {
    queueSize: config.logging.queueSize,
    batchSize: config.logging.batchSize,
    flushMs: config.logging.flushMs,
    warn: (message) => log.warn('request_log', { message }),
  });
  const retention: RetentionJob | undefined =
    store.kind === 'memory'
      ? undefined
      : startRetention(store, config.logging.retentionDays, RETENTION_INTERVAL_MS, {
          warn: (message) => log.warn('request_log_retention', { message }),
        });
  const metrics = new GatewayMetrics({
    isConfiguredModel: (name) => models.has(name),
    inFlight,
    deployments: () => deploymentGauges(models, states),
    requestLog: () => requestLog.stats,
  });
  // Deployment rpm/tpm are counted across replicas only when the limit store is shared (Redis).
  const shared =
    limitStore.kind === 'redis'
      ? new SharedDeploymentUsage(
          limitStore,
          [
            ...new Set(
              [...models.values()].flatMap((m) =>
                m.model.deployments.filter((d) => d.rpm || d.tpm).map((d) => d.key),
              ),
            ),
          ],
          (operation) => metrics.sharedStateError(operation),
        )
      : undefined;
  shared?.start();
  const states = new DeploymentStates(shared);
  const tracing = createTracing(config.telemetry);
  const webhook =
    config.alerts.webhook === undefined ? undefined : new WebhookSender(config.alerts.webhook, log);
  const limits = new Limits({
    store: limitStore,
    ledger: store,
    log,
    metrics,
    webhook,
    commitments: new Map(
      config.providers.flatMap((p) => (p.commitment ? [[p.id, p.commitment] as const] : [])),
    ),
  });
  return {
    config: withoutSecrets(config),
    adminKeyHash: config.adminKey === undefined ? undefined : hashKey(config.adminKey),
    identity,
    providers,
    models,
    states,
    transport,
    store,
    limits,
    requestLog,
    metrics,
    tracing,
    log,
    prices,
    inFlight,
    observeRequest: (record) => {
      metrics.observeRequest(record);
      requestLog.enqueue(record);
    },
    stopping,
    stop: () => stopping.stop(),
    close: async () => {
      identity.stop();
      shared?.stop();
      retention?.stop();
      try {
        await requestLog.close();
      } catch (err) {
        // The store is away at shutdown: say what is lost, then release everything else anyway.
        log.error('request_log_unflushed', {
          message: `${requestLog.stats.queued} request records could not be written: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
      await Promise.all([transport.close(), tracing.shutdown(), webhook?.idle()]);
      await Promise.all([store.close(), limitStore.close()]);
    },
  };
}

/** Every deployment's circuit and in-flight count, for the scrape-time gauges. */
function deploymentGauges(
  models: ReadonlyMap<string, ModelRuntime>,
  states: DeploymentStates,
): DeploymentGaugeView[] {
  const seen = new Map<string, DeploymentGaugeView>();
  const now = Date.now();
  for (const { model } of models.values()) {
    for (const d of model.deployments) {
      if (seen.has(d.key)) continue;
      const view = states.view(d.key, model.routing.circuitBreaker, now);
      seen.set(d.key, {
        provider: d.provider.id,
        deployment: d.model,
        circuit: view.circuit,
        inFlight: view.inFlight,
      });
    }
  }
  return [...seen.values()];
}

/** Client keys are hashed into the identity index at start-up and the admin key into its hash. */
function withoutSecrets(config: Config): Config {
  const { adminKey: _dropped, ...rest } = config;
  return { ...rest, keys: config.keys.map((k) => ({ ...k, key: '' })) };
}

/**
 * Prometheus metrics for `GET /metrics`, fed from the one record each request produces.
 *
 * Label cardinality: every label value comes from the configuration (model, provider, deployment;
 * a model name the configuration lacks is counted as `(unknown)`) or from a small fixed set the
 * gateway defines (status class, error code, attempt outcome and kind, limit scope). Key names, key ids, team names of keys, request ids and any text a client or
 * an upstream wrote never become labels: each distinct value is a series kept for the life of the
 * process, so an unbounded value would grow memory without limit.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptRecord, RequestRecord } from './record.ts';

export type CircuitState = 'closed' | 'half-open' | 'open';

/** What the routing engine knows about one deployment at scrape time. */
export interface DeploymentGaugeView {
  provider: string;
  deployment: string;
  circuit: CircuitState;
  inFlight: number;
}

/** The request log writer's own counters, read at scrape time. */
export interface RequestLogView {
  queued: number;
  dropped: number;
  written: number;
  failedFlushes: number;
}

/** What the metrics read from the rest of the gateway. */
export interface MetricsSources {
  /**
   * Whether a model name is in the configuration. A rejected request (401, 404, 400) carries
   * whatever model name the client sent; such names are counted under `UNKNOWN_MODEL_LABEL` so
   * that no client can create series at will. Called once per request: make it a set look-up.
   */
  isConfiguredModel(model: string): boolean;
  // Read when Prometheus scrapes, so gauges are exact at that moment and cost nothing per request.
  inFlight(): number;
  deployments(): DeploymentGaugeView[];
  requestLog(): RequestLogView;
}

/**
 * Seconds. LLM calls span four orders of magnitude: an embedding or a cached answer returns in
 * tens of milliseconds, a short chat in about a second, a long generation or a reasoning model in
 * minutes (the default total timeout is 10 minutes). Roughly x2-x2.5 steps keep the error of a
 * quantile estimate bounded across that whole range with 16 buckets per series.
 */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

/**
 * Seconds. Time to first token is what users feel: most providers answer in 0.2-2 s, reasoning
 * models and cold or overloaded deployments take tens of seconds. Finer steps below 2 s, where
 * latency-based routing and SLOs make their decisions.
 */
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60];

/** The `model` label of requests for a model the configuration does not have. */
export const UNKNOWN_MODEL_LABEL = '(unknown)';

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** How a request's attempts went, as the spillover, retry and hedge counters count them. */
export interface AttemptSummary {
  /**
   * Served by a deployment other than the first one planned, by the routing plan rather than by
   * a hedge: the first attempt in the record (skipped or failed) is another deployment than the
   * `ok` one, and the `ok` one is not a hedge. A retry on the same deployment is not a spillover.
   */
  spillover: boolean;
  /** Attempts sent after the first sent one, hedges excluded. */
  retries: number;
  /** Hedge attempts actually started (not skipped). */
  hedgesStarted: number;
  /** 1 when the attempt that served the request was a hedge. */
  hedgesWon: number;
}

export function summarizeAttempts(attempts: readonly AttemptRecord[]): AttemptSummary {
  let served: AttemptRecord | undefined;
  let sentBefore = false;
  let retries = 0;
  let hedgesStarted = 0;
  for (const attempt of attempts) {
    if (attempt.outcome === 'ok' && served === undefined) served = attempt;
    if (attempt.outcome === 'skipped') continue;
    if (attempt.hedge === true) {
      hedgesStarted++;
    } else if (sentBefore) {
      retries++;
    }
    sentBefore = true;
  }
  const first = attempts[0];
  const spillover =
    served !== undefined &&
    served.hedge !== true &&
    first !== undefined &&
    (first.provider !== served.provider || first.deployment !== served.deployment);
  return { spillover, retries, hedgesStarted, hedgesWon: served?.hedge === true ? 1 : 0 };
}

type CounterSeries = ReturnType<Counter<string>['labels']>;
type HistogramSeries = ReturnType<Histogram<string>['labels']>;

/** One label set of a buffered counter: the request path adds to `pending`, a scrape moves it on. */
interface PendingSeries {
  pending: number;
  readonly bound: CounterSeries;
}

/**
 * A counter whose increments add up in plain numbers until Prometheus scrapes. prom-client's own
 * `inc` validates and hashes the labels on every call (about 0.5 µs, measured); a request touches
 * up to a dozen counters, so the request path only does additions and the scrape hands the sums
 * to prom-client. Values are the same; they are merely handed over when read.
 */
class BufferedCounter {
  private readonly series: PendingSeries[] = [];
  private readonly counter: Counter<string>;

  constructor(registry: Registry, name: string, help: string, labelNames: string[]) {
    const series = this.series;
    this.counter = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const s of series) {
          if (s.pending > 0) {
            s.bound.inc(s.pending);
            s.pending = 0;
          }
        }
      },
    });
  }

  /** Label values in `labelNames` order. Call once per label set and keep the result. */
  bind(...values: string[]): PendingSeries {
    const s = { pending: 0, bound: this.counter.labels(...values) };
    this.series.push(s);
    return s;
  }
}

/** Adds only real positive amounts: a NaN or negative would make prom-client throw at every scrape. */
function add(series: PendingSeries, amount: number): void {
  if (amount > 0) series.pending += amount;
}

/** Every series one (model, provider, deployment, stream) route writes, bound once and reused. */
interface RouteSeries {
  /** By `${statusClass} ${errorCode}`. */
  requests: Map<string, PendingSeries>;
  duration: HistogramSeries;
  ttft: HistogramSeries;
  inputTokens: PendingSeries;
  outputTokens: PendingSeries;
  cachedTokens: PendingSeries;
  cost: PendingSeries;
  unpriced: PendingSeries;
  spillovers: PendingSeries;
  retries: PendingSeries;
  hedgesStarted: PendingSeries;
  hedgesWon: PendingSeries;
}

export class GatewayMetrics {
  /** Our own registry: several gateways in one process (tests) never share or clash. */
  readonly registry = new Registry();
  private readonly routes = new Map<string, RouteSeries>();
  private readonly attemptSeries = new Map<string, PendingSeries>();

  private readonly requests = this.buffered(
    'switchyard_requests_total',
    'Requests answered, by route and outcome.',
    ['model', 'provider', 'deployment', 'status_class', 'error_code'],
  );
  private readonly duration = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Total request latency as the client saw it, in seconds.',
    labelNames: ['model', 'provider', 'stream'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time until the first output reached the client, in seconds (requests that sent output).',
    labelNames: ['model', 'provider', 'stream'],
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = this.buffered('switchyard_tokens_total', 'Tokens reported by the upstreams.', [
    'model',
    'provider',
    'direction',
  ]);
  private readonly cost = this.buffered('switchyard_cost_usd_total', 'Cost of served requests in USD.', [
    'model',
    'provider',
  ]);
  private readonly unpriced = this.buffered(
    'switchyard_unpriced_requests_total',
    'Served requests whose cost is unknown (no usage or no price): their spend is missing from budgets.',
    ['model', 'provider', 'deployment'],
  );
  private readonly attempts = this.buffered(
    'switchyard_upstream_attempts_total',
    'Upstream attempts by outcome (ok, failed, skipped, aborted) and failure or skip kind.',
    ['provider', 'deployment', 'outcome', 'kind'],
  );
  private readonly spillovers = this.buffered(
    'switchyard_spillovers_total',
    'Requests served by a deployment other than the first one planned (not by a hedge).',
    ['model'],
  );
  private readonly retries = this.buffered(
    'switchyard_retries_total',
    'Upstream attempts sent after the first one of a request, hedges excluded.',
    ['model'],
  );
  private readonly hedgesStarted = this.buffered(
    'switchyard_hedges_started_total',
    'Hedge attempts started.',
    ['model'],
  );
  private readonly hedgesWon = this.buffered(
    'switchyard_hedges_won_total',
    'Requests served by a hedge attempt.',
    ['model'],
  );
  // Rare events: prom-client's own counters directly.
  private readonly budgetAlerts = new Counter({
    name: 'switchyard_budget_alerts_total',
    help: 'Budget alerts raised, by budget kind and threshold percent.',
    labelNames: ['scope', 'threshold'],
    registers: [this.registry],
  });
  private readonly sharedStateErrors = new Counter({
    name: 'switchyard_shared_state_errors_total',
    help: 'Failed operations on the shared state (Redis or the database).',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  private readonly limited = new Counter({
    name: 'switchyard_limited_requests_total',
    help: 'Requests refused by a key or team limit.',
    labelNames: ['scope', 'kind'],
    registers: [this.registry],
  });

  private readonly sources: MetricsSources;

  constructor(sources: MetricsSources) {
    this.sources = sources;
    gaugesFromSources(this.registry, sources);
  }

  /** Called once per request, when it ends. Additions and map look-ups only (see BufferedCounter). */
  observeRequest(record: RequestRecord): void {
    const model = this.sources.isConfiguredModel(record.model) ? record.model : UNKNOWN_MODEL_LABEL;
    const provider = record.provider ?? '';
    const deployment = record.deployment ?? '';
    const route = this.route(model, provider, deployment, record.stream);

    const status = statusClass(record.status);
    const errorCode = record.errorCode ?? '';
    const outcome = `${status} ${errorCode}`;
    let requests = route.requests.get(outcome);
    if (requests === undefined) {
      requests = this.requests.bind(model, provider, deployment, status, errorCode);
      route.requests.set(outcome, requests);
    }
    requests.pending++;

    // prom-client throws on a non-finite observation; `>= 0` is false for NaN.
    if (record.latencyMs >= 0) route.duration.observe(record.latencyMs / 1000);
    if (record.ttftMs !== null && record.ttftMs >= 0) route.ttft.observe(record.ttftMs / 1000);
    if (record.inputTokens !== null) add(route.inputTokens, record.inputTokens);
    if (record.outputTokens !== null) add(route.outputTokens, record.outputTokens);
    if (record.cachedTokens !== null) add(route.cachedTokens, record.cachedTokens);
    if (record.costUsd !== null) add(route.cost, record.costUsd);
    else if (record.provider !== null && record.status < 400) route.unpriced.pending++;

    for (const attempt of record.attempts) this.attemptSeriesOf(attempt).pending++;
    const summary = summarizeAttempts(record.attempts);
    if (summary.spillover) route.spillovers.pending++;
    add(route.retries, summary.retries);
    add(route.hedgesStarted, summary.hedgesStarted);
    add(route.hedgesWon, summary.hedgesWon);
  }

  /**
   * A budget crossed a threshold. `scope` is the kind of budget (`key`, `team`), never a key's
   * name or id: keys are created at run time, so their names are unbounded.
   */
  budgetAlert(scope: string, thresholdPercent: number): void {
    this.budgetAlerts.labels(scope, String(thresholdPercent)).inc();
  }

  /** `operation` is a fixed name from the code (`rate-limit`, `spend`, `key-sync`...). */
  sharedStateError(operation: string): void {
    this.sharedStateErrors.labels(operation).inc();
  }

  rateLimited(scope: 'key' | 'team', kind: 'requests' | 'tokens' | 'budget'): void {
    this.limited.labels(scope, kind).inc();
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private buffered(name: string, help: string, labelNames: string[]): BufferedCounter {
    return new BufferedCounter(this.registry, name, help, labelNames);
  }

  private route(model: string, provider: string, deployment: string, stream: boolean): RouteSeries {
    const key = `${model}\u0000${provider}\u0000${deployment}\u0000${stream}`;
    let route = this.routes.get(key);
    if (route === undefined) {
      const streamLabel = String(stream);
      route = {
        requests: new Map(),
        duration: this.duration.labels(model, provider, streamLabel),
        ttft: this.ttft.labels(model, provider, streamLabel),
        inputTokens: this.tokens.bind(model, provider, 'input'),
        outputTokens: this.tokens.bind(model, provider, 'output'),
        cachedTokens: this.tokens.bind(model, provider, 'cached'),
        cost: this.cost.bind(model, provider),
        unpriced: this.unpriced.bind(model, provider, deployment),
        spillovers: this.spillovers.bind(model),
        retries: this.retries.bind(model),
        hedgesStarted: this.hedgesStarted.bind(model),
        hedgesWon: this.hedgesWon.bind(model),
      };
      this.routes.set(key, route);
    }
    return route;
  }

  private attemptSeriesOf(attempt: AttemptRecord): PendingSeries {
    const kind = attempt.kind ?? '';
    const key = `${attempt.provider}\u0000${attempt.deployment}\u0000${attempt.outcome}\u0000${kind}`;
    let series = this.attemptSeries.get(key);
    if (series === undefined) {
      series = this.attempts.bind(attempt.provider, attempt.deployment, attempt.outcome, kind);
      this.attemptSeries.set(key, series);
    }
    return series;
  }
}

/** Gauges and totals read from their owners when Prometheus scrapes. */
function gaugesFromSources(registry: Registry, sources: MetricsSources): void {
  const registers = [registry];
  new Gauge({
    name: 'switchyard_in_flight_requests',
    help: 'Requests being handled now.',
    registers,
    collect() {
      this.set(sources.inFlight());
    },
  });
  // Rebuilt at each scrape: a deployment removed by a configuration reload disappears instead of
  // reporting its last value forever.
  new Gauge({
    name: 'switchyard_deployment_in_flight',
    help: 'Upstream requests in flight per deployment.',
    labelNames: ['provider', 'deployment'],
    registers,
    collect() {
      this.reset();
      for (const d of sources.deployments()) this.labels(d.provider, d.deployment).set(d.inFlight);
    },
  });
  new Gauge({
    name: 'switchyard_circuit_state',
    help: 'Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open.',
    labelNames: ['provider', 'deployment'],
    registers,
    collect() {
      this.reset();
      for (const d of sources.deployments())
        this.labels(d.provider, d.deployment).set(CIRCUIT_VALUE[d.circuit]);
    },
  });
  new Gauge({
    name: 'switchyard_request_log_queue_depth',
    help: 'Request records waiting to be written.',
    registers,
    collect() {
      this.set(sources.requestLog().queued);
    },
  });
  // The request log writer owns these running totals: each scrape sets the counter to it.
  const total = (name: string, help: string, read: (view: RequestLogView) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(sources.requestLog()));
      },
    });
  };
  total(
    'switchyard_request_log_dropped_total',
    'Request records dropped: the write queue was full.',
    (v) => v.dropped,
  );
  total('switchyard_request_log_written_total', 'Request records written to storage.', (v) => v.written);
  total(
    'switchyard_request_log_failed_flushes_total',
    'Request log writes that failed.',
    (v) => v.failedFlushes,
  );
}

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/**
 * Admission by reservation, settlement to the real usage. Before a request is planned, its key's
 * and its team's rate windows (requests and tokens per minute) and budgets (the request's maximum
 * cost) are checked and charged in one atomic step; after it, tokens and money settle to what was
 * really used. A request that dies releases its reservation; a crashed replica's expire.
 */
import type { BudgetConfig, CommitmentConfig } from '../config/schema.ts';
import type { Usage } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import type { TokenEstimate } from '../gateway/estimate.ts';
import { periodEnd, periodLabel, periodStart } from '../governance/periods.ts';
import type { Principal } from '../identity/keys.ts';
import type { RequestLog, SpendScope } from '../state/types.ts';
import type { Logger } from '../telemetry/log.ts';
import type { GatewayMetrics } from '../telemetry/metrics.ts';
import { ALERT_THRESHOLDS, type WebhookSender } from './alerts.ts';
import { SharedStateUnavailableError } from './redis.ts';
import {
  type BudgetCheck,
  fromNano,
  type LimitStore,
  toNano,
  type WindowCheck,
  type WindowState,
} from './types.ts';

/** Budget counters are kept this long past their period's end (reports, late settlements). */
const KEEP_AFTER_PERIOD_MS = 35 * 86_400_000;
/**
 * A reservation outlives its request's total deadline by as long again (at most a minute) before
 * it expires by itself: room for clock skew between replicas, none for a request still running.
 */
const RESERVATION_GRACE_MAX_MS = 60_000;
/** Seeding races (another replica seeding the same counter) settle within a few rounds. */
const MAX_SEED_ROUNDS = 4;

interface Subject {
  kind: 'key' | 'team';
  /** Where the limit is configured, for messages: `keys[].rpm`. */
  where: string;
  /** `key "research-app"`, `team "research"`. */
  label: string;
  /** `key:<id>` or `team:<name>`. */
  scope: string;
  name: string;
  rpm?: number;
  tpm?: number;
  budget?: BudgetConfig;
}

function subjects(principal: Principal): Subject[] {
  const out: Subject[] = [
    {
      kind: 'key',
      where: 'keys[]',
      label: `key "${principal.keyName}"`,
      scope: `key:${principal.keyId}`,
      name: principal.keyName,
      ...principal.key,
    },
  ];
  const team = principal.team;
  if (team) {
    out.push({
      kind: 'team',
      where: 'teams[]',
      label: `team "${team.name}"`,
      scope: `team:${team.name}`,
      ...team,
    });
  }
  return out;
}

/** Whether any of the principal's budgets is hard: then only priced requests are admitted. */
export function hasHardBudget(principal: Principal): boolean {
  return subjects(principal).some((s) => s.budget?.mode === 'hard');
}

interface WindowEntry {
  subject: Subject;
  unit: 'requests' | 'tokens';
  check: WindowCheck;
}

interface BudgetEntry {
  subject: Subject;
  budget: BudgetConfig;
  check: BudgetCheck;
}

/** What the lifecycle gets back: headers for every answer, and the settlement to run at the end. */
export interface Admission {
  /** `x-ratelimit-*` for a rate-limited key, on every answer. */
  headers: Record<string, string>;
  settle(outcome: SettleOutcome): Promise<void>;
}

export interface SettleOutcome {
  /** An upstream produced output (so the reservation may have been spent). */
  served: boolean;
  usage: Usage | undefined;
  /** The real cost, when usage and a price were known. */
  costUsd: number | null;
  /** The provider that served (commitment burn-down). */
  providerId: string | undefined;
}

export interface LimitsOptions {
  store: LimitStore;
  ledger: Pick<RequestLog, 'spendSince'>;
  log: Logger;
  metrics: Pick<GatewayMetrics, 'budgetAlert' | 'sharedStateError' | 'rateLimited'>;
  webhook: WebhookSender | undefined;
  /** Providers with a commitment: their spend (usd) or token use (tpm) is counted. */
  commitments: ReadonlyMap<string, CommitmentConfig>;
  now?: () => number;
}

const NO_ADMISSION: Admission = { headers: {}, settle: async () => {} };

export class Limits {
  private readonly o: LimitsOptions;
  private readonly now: () => number;

  constructor(options: LimitsOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  get store(): LimitStore {
    return this.o.store;
  }

  /**
   * Admits a request or throws the refusal: 429 rate_limit_exceeded (with retry-after),
   * 429 insufficient_quota, or 503 when the shared state cannot be reached (fail closed).
   */
  async admit(
    principal: Principal,
    request: { id: string; estimate: TokenEstimate; maxCostUsd: number; totalMs: number },
  ): Promise<Admission> {
    const all = subjects(principal);
    const governed = all.some((s) => s.rpm !== undefined || s.tpm !== undefined || s.budget !== undefined);
    if (!governed) return NO_ADMISSION;
    const nowMs = this.now();
    const tokens = request.estimate.inputTokens + request.estimate.outputTokens;
    const windows: WindowEntry[] = [];
    const budgets: BudgetEntry[] = [];
    for (const subject of all) {
      if (subject.rpm !== undefined) {
        windows.push({
          subject,
          unit: 'requests',
          check: { name: `rate:${subject.scope}:requests`, limit: subject.rpm, amount: 1 },
        });
      }
      if (subject.tpm !== undefined) {
        if (tokens > subject.tpm) {
          throw new GatewayError(
            'rate_limit_exceeded',
            `this request alone may use ${tokens} tokens, more than the ${subject.tpm} tokens per minute of ${subject.label} (${subject.where}.tpm); lower max_tokens or the prompt`,
            { param: 'max_tokens' },
          );
        }
        windows.push({
          subject,
          unit: 'tokens',
          check: { name: `rate:${subject.scope}:tokens`, limit: subject.tpm, amount: tokens },
        });
      }
      if (subject.budget) {
        budgets.push({
          subject,
          budget: subject.budget,
          check: {
            scope: subject.scope,
            period: periodLabel(subject.budget.period, nowMs),
            limitNano: subject.budget.mode === 'hard' ? toNano(subject.budget.usd) : undefined,
            amountNano: subject.budget.mode === 'hard' ? toNano(request.maxCostUsd) : 0,
            expiresAtMs: nowMs + request.totalMs + Math.min(RESERVATION_GRACE_MAX_MS, request.totalMs),
            ttlMs: ttlFor(subject.budget.period, nowMs),
          },
        });
      }
    }
    const result = await this.shared('admission', async () => {
      for (let round = 0; ; round++) {
        const r = await this.o.store.admit({
          id: request.id,
          nowMs,
          windows: windows.map((w) => w.check),
          budgets: budgets.map((b) => b.check),
        });
        if (r.ok || r.refused !== 'seed' || round >= MAX_SEED_ROUNDS) return r;
        await this.seed(budgets[r.index]!.check, nowMs);
      }
    });
    if (!result.ok) {
      if (result.refused === 'window') {
        const entry = windows[result.index]!;
        this.o.metrics.rateLimited(entry.subject.kind, entry.unit);
        const state = result.windows[result.index]!;
        const retryAfterMs = Math.max(1000, state.freesAtMs - nowMs);
        throw new GatewayError(
          'rate_limit_exceeded',
          `rate limit reached for ${entry.subject.label}: ${entry.check.limit} ${entry.unit} per minute (${entry.subject.where}.${entry.unit === 'requests' ? 'rpm' : 'tpm'}); ${state.used} used in the last minute; retry after ${Math.ceil(retryAfterMs / 1000)} s`,
          { retryAfterMs, headers: rateHeaders(windows, result.windows, nowMs) },
        );
      }
      if (result.refused === 'budget') {
        const entry = budgets[result.index]!;
        this.o.metrics.rateLimited(entry.subject.kind, 'budget');
        const spentOnly = result.spentNano + entry.check.amountNano > (entry.check.limitNano ?? 0);
        const end = periodEnd(entry.budget.period, nowMs);
        const retryAfterMs = spentOnly ? (Number.isFinite(end) ? end - nowMs : undefined) : 1000;
        throw new GatewayError(
          'insufficient_quota',
          `budget of ${entry.subject.label} would be exceeded: $${fromNano(result.spentNano).toFixed(4)} spent and $${fromNano(result.reservedNano).toFixed(4)} reserved by requests in flight of $${entry.budget.usd} per ${entry.budget.period} (${entry.subject.where}.budget, hard); this request may cost up to $${request.maxCostUsd.toFixed(4)} (lower max_tokens to ask for less)`,
          retryAfterMs === undefined ? {} : { retryAfterMs },
        );
      }
      throw new GatewayError(
        'shared_state_unavailable',
        'budget counters could not be seeded; retry the request',
        {
          retryAfterMs: 1000,
        },
      );
    }
    const headers = rateHeaders(windows, result.windows, nowMs);
    return {
      headers,
      settle: (outcome) => this.settle(request.id, nowMs, windows, budgets, outcome, request.maxCostUsd),
    };
  }

  /** Settles after the response; retried a few times, since a lost settlement under-counts spend. */
  private async settle(
    id: string,
    admittedAtMs: number,
    windows: WindowEntry[],
    budgets: BudgetEntry[],
    outcome: SettleOutcome,
    maxCostUsd: number,
  ): Promise<void> {
    const nowMs = this.now();
    const actualTokens = outcome.usage?.totalTokens ?? 0;
    // Served without a usage report (a stream cut short): charge the reservation, never less than
    // what may have been spent. Nothing served: nothing spent.
    const costUsd = outcome.costUsd ?? (outcome.served && outcome.usage === undefined ? maxCostUsd : 0);
    const request = {
      id,
      nowMs,
      windows: windows
        .filter((w) => w.unit === 'tokens')
        .map((w) => ({ name: w.check.name, atMs: admittedAtMs, delta: actualTokens - w.check.amount })),
      budgets: budgets.map((b) => ({
        scope: b.check.scope,
        period: b.check.period,
        actualNano: toNano(costUsd),
        ttlMs: b.check.ttlMs,
      })),
    };
    const spent = await this.settleWithSeeding(request);
    if (spent) budgets.forEach((b, i) => void this.alert(b, spent[i]!, nowMs));
  }

  private async settleWithSeeding(
    request: Parameters<LimitStore['settle']>[0],
  ): Promise<number[] | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        for (let round = 0; round < MAX_SEED_ROUNDS; round++) {
          const result = await this.o.store.settle(request);
          if (result.ok) return result.spentNano;
          await this.seed(request.budgets[result.seedIndex]!, request.nowMs);
        }
        return undefined;
      } catch (err) {
        this.o.metrics.sharedStateError('settle');
        if (attempt === 2) {
          this.o.log.error('settlement_lost', { id: request.id, error: err });
          return undefined;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
    return undefined;
  }

  /**
   * A provider with a commitment counts what it served (burn-down, commitment-first routing): its
   * spend per period for a spend commitment, its tokens per minute for provisioned throughput.
   */
  async recordProviderUse(
    providerId: string | undefined,
    usage: Usage | undefined,
    costUsd: number,
  ): Promise<void> {
    const commitment = providerId === undefined ? undefined : this.o.commitments.get(providerId);
    if (providerId === undefined || commitment === undefined) return;
    const nowMs = this.now();
    if (commitment.tpm !== undefined) {
      const tokens = usage?.totalTokens ?? 0;
      if (tokens > 0) {
        await this.o.store
          .charge([{ name: commitmentWindow(providerId), amount: tokens }], nowMs)
          .catch(() => this.o.metrics.sharedStateError('commitment'));
      }
      return;
    }
    if (costUsd <= 0) return;
    const period = commitment.period;
    const scope = `provider:${providerId}`;
    await this.settleWithSeeding({
      id: `spend:${providerId}:${nowMs}`,
      nowMs,
      windows: [],
      budgets: [
        {
          scope,
          period: periodLabel(period, nowMs),
          actualNano: toNano(costUsd),
          ttlMs: ttlFor(period, nowMs),
        },
      ],
    });
  }

  /** What a scope spent this period, seeding its counter from the ledger if needed. */
  async spent(scope: string, period: BudgetConfig['period'], nowMs = this.now()): Promise<number> {
    const label = periodLabel(period, nowMs);
    let [state] = await this.o.store.budgets([{ scope, period: label }]);
    if (!state) {
      await this.seed({ scope, period: label, ttlMs: ttlFor(period, nowMs) }, nowMs);
      [state] = await this.o.store.budgets([{ scope, period: label }]);
    }
    return fromNano(state?.spentNano ?? 0);
  }

  /** Creates a budget counter from the ledger's daily roll-up (idempotent: the first seed wins). */
  private async seed(check: Pick<BudgetCheck, 'scope' | 'period' | 'ttlMs'>, nowMs: number): Promise<void> {
    const [kind, ...rest] = check.scope.split(':');
    const id = rest.join(':');
    const scope: SpendScope =
      kind === 'team'
        ? { kind: 'team', name: id }
        : kind === 'provider'
          ? { kind: 'provider', id }
          : { kind: 'key', id };
    const since = check.period === 'total' ? 0 : periodStartOfLabel(check.period, nowMs);
    const usd = await this.o.ledger.spendSince(scope, since);
    await this.o.store.seed(check.scope, check.period, toNano(usd), check.ttlMs);
  }

  private async alert(entry: BudgetEntry, spentNano: number, nowMs: number): Promise<void> {
    const limitNano = toNano(entry.budget.usd);
    if (limitNano <= 0) return;
    const percent = (spentNano * 100) / limitNano;
    for (const threshold of ALERT_THRESHOLDS) {
      if (percent < threshold) continue;
      const key = `alert:${entry.check.scope}:${entry.check.period}:${threshold}`;
      try {
        if (!(await this.o.store.once(key, entry.check.ttlMs))) continue;
      } catch {
        this.o.metrics.sharedStateError('alert');
        continue;
      }
      const alert = {
        type: 'budget_alert' as const,
        scope: entry.subject.kind,
        name: entry.subject.name,
        period: entry.check.period,
        thresholdPercent: threshold,
        spentUsd: fromNano(spentNano),
        limitUsd: entry.budget.usd,
        mode: entry.budget.mode,
        time: new Date(nowMs).toISOString(),
      };
      this.o.log.warn('budget_alert', { ...alert });
      this.o.metrics.budgetAlert(entry.subject.kind, threshold);
      this.o.webhook?.send(alert);
    }
  }

  /** Runs a shared-state call; when it fails, the request is refused (fail closed), never waved through. */
  private async shared<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.o.metrics.sharedStateError(operation);
      const where = this.o.store.kind === 'redis' ? 'Redis (redis:)' : 'the limit store';
      const detail = err instanceof SharedStateUnavailableError ? err.message : String(err);
      this.o.log.warn('shared_state_unavailable', { operation, detail });
      throw new GatewayError(
        'shared_state_unavailable',
        `rate limits and budgets are kept in ${where}, which cannot be reached; the request is refused rather than risk exceeding them. Retry shortly`,
        { retryAfterMs: 1000 },
      );
    }
  }
}

/** The window of a provider's tokens per minute, for a provisioned-throughput commitment. */
export function commitmentWindow(providerId: string): string {
  return `commit:provider:${providerId}:tokens`;
}

function ttlFor(period: BudgetConfig['period'], nowMs: number): number {
  const end = periodEnd(period, nowMs);
  return Number.isFinite(end) ? end - nowMs + KEEP_AFTER_PERIOD_MS : Number.POSITIVE_INFINITY;
}

/** The period start for a label made by periodLabel at `nowMs` (labels are always of the current period). */
function periodStartOfLabel(label: string, nowMs: number): number {
  if (label.startsWith('week-')) return periodStart('week', nowMs);
  if (/^\d{4}-\d{2}-\d{2}$/.test(label)) return periodStart('day', nowMs);
  if (/^\d{4}-\d{2}$/.test(label)) return periodStart('month', nowMs);
  return 0;
}

/**
 * OpenAI's rate-limit headers for the tightest window of each unit (key or team, whichever has
 * less left): limit, remaining and when the window frees (Go-style durations, as OpenAI sends).
 */
function rateHeaders(entries: WindowEntry[], states: WindowState[], nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const unit of ['requests', 'tokens'] as const) {
    let tightest: { limit: number; remaining: number; resetMs: number } | undefined;
    entries.forEach((entry, i) => {
      const state = states[i];
      if (entry.unit !== unit || entry.check.limit === undefined || !state) return;
      const remaining = Math.max(0, entry.check.limit - state.used);
      if (!tightest || remaining < tightest.remaining) {
        tightest = { limit: entry.check.limit, remaining, resetMs: Math.max(0, state.freesAtMs - nowMs) };
      }
    });
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${unit}`] = String(tightest.limit);
    headers[`x-ratelimit-remaining-${unit}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${unit}`] = goDuration(tightest.resetMs);
  }
  return headers;
}

/** `0s`, `12s`, `6m0s`: the format OpenAI's reset headers use. */
export function goDuration(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

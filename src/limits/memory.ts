/**
 * Limits and budgets in this process: exact for one replica (each call runs to completion before
 * another starts, so check-then-charge is atomic). With several replicas, use Redis.
 */
import { MinuteWindow } from '../routing/windows.ts';
import type {
  AdmitRequest,
  AdmitResult,
  LimitStore,
  SettleRequest,
  SettleResult,
  WindowState,
} from './types.ts';

interface Budget {
  spentNano: number;
  reservedNano: number;
  reservations: Map<string, { amountNano: number; expiresAtMs: number }>;
  /**
   * No reservation expires before this (epoch ms): a lower bound, so the expiry sweep walks the
   * reservations only when one may be due, not on every admission and settlement (at saturation
   * that walk is over every request in flight, twice per request).
   */
  nextExpiryMs: number;
  /** Forgotten after this (epoch ms); refreshed on every use. */
  keepUntilMs: number;
}

/** Counters unused this long are dropped, so the maps cannot grow without bound. */
const WINDOW_KEEP_MS = 120_000;

export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory';
  private readonly windowsByName = new Map<string, { window: MinuteWindow; lastUseMs: number }>();
  private readonly budgetsByKey = new Map<string, Budget>();
  private readonly flags = new Map<string, number>();
  private lastSweepMs = 0;

  private window(name: string, nowMs: number): MinuteWindow {
    let entry = this.windowsByName.get(name);
    if (!entry) {
      entry = { window: new MinuteWindow(), lastUseMs: nowMs };
      this.windowsByName.set(name, entry);
    }
    entry.lastUseMs = nowMs;
    return entry.window;
  }

  private state(window: MinuteWindow, nowMs: number): WindowState {
    return { used: window.sum(nowMs), freesAtMs: window.freesAtMs(nowMs) };
  }

  /** Releases reservations nobody settled in time (their replica died), then answers the budget. */
  private budget(scope: string, period: string, nowMs: number): Budget | undefined {
    const budget = this.budgetsByKey.get(`${scope}|${period}`);
    if (!budget) return undefined;
    if (budget.nextExpiryMs > nowMs) return budget;
    let next = Number.POSITIVE_INFINITY;
    for (const [id, r] of budget.reservations) {
      if (r.expiresAtMs <= nowMs) {
        budget.reservedNano -= r.amountNano;
        budget.reservations.delete(id);
      } else next = Math.min(next, r.expiresAtMs);
    }
    budget.nextExpiryMs = next;
    return budget;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { nowMs } = request;
    this.sweep(nowMs);
    const budgets: Budget[] = [];
    for (const [index, b] of request.budgets.entries()) {
      const budget = this.budget(b.scope, b.period, nowMs);
      if (!budget) return { ok: false, refused: 'seed', index };
      budgets.push(budget);
    }
    const windows = request.windows.map((w) => this.window(w.name, nowMs));
    for (const [index, w] of request.windows.entries()) {
      const used = windows[index]!.sum(nowMs);
      if (w.limit !== undefined && used + w.amount > w.limit) {
        return { ok: false, refused: 'window', index, windows: windows.map((x) => this.state(x, nowMs)) };
      }
    }
    for (const [index, b] of request.budgets.entries()) {
      const budget = budgets[index]!;
      if (b.limitNano !== undefined && budget.spentNano + budget.reservedNano + b.amountNano > b.limitNano) {
        return {
          ok: false,
          refused: 'budget',
          index,
          spentNano: budget.spentNano,
          reservedNano: budget.reservedNano,
        };
      }
    }
    for (const [index, w] of request.windows.entries()) windows[index]!.add(w.amount, nowMs);
    for (const [index, b] of request.budgets.entries()) {
      const budget = budgets[index]!;
      budget.keepUntilMs = nowMs + b.ttlMs;
      if (b.amountNano <= 0) continue;
      budget.reservedNano += b.amountNano;
      budget.reservations.set(request.id, { amountNano: b.amountNano, expiresAtMs: b.expiresAtMs });
      budget.nextExpiryMs = Math.min(budget.nextExpiryMs, b.expiresAtMs);
    }
    return { ok: true, windows: windows.map((x) => this.state(x, nowMs)) };
  }

  async settle(request: SettleRequest): Promise<SettleResult> {
    const { nowMs } = request;
    const budgets: Budget[] = [];
    for (const [index, b] of request.budgets.entries()) {
      const budget = this.budget(b.scope, b.period, nowMs);
      if (!budget) return { ok: false, seedIndex: index };
      budgets.push(budget);
    }
    for (const w of request.windows) this.windowsByName.get(w.name)?.window.adjust(w.delta, w.atMs, nowMs);
    const spentNano = request.budgets.map((b, index) => {
      const budget = budgets[index]!;
      const reservation = budget.reservations.get(request.id);
      if (reservation) {
        budget.reservedNano -= reservation.amountNano;
        budget.reservations.delete(request.id);
      }
      budget.spentNano += b.actualNano;
      budget.keepUntilMs = nowMs + b.ttlMs;
      return budget.spentNano;
    });
    return { ok: true, spentNano };
  }

  async seed(scope: string, period: string, spentNano: number, _ttlMs: number): Promise<void> {
    const key = `${scope}|${period}`;
    if (this.budgetsByKey.has(key)) return;
    this.budgetsByKey.set(key, {
      spentNano,
      reservedNano: 0,
      reservations: new Map(),
      nextExpiryMs: Number.POSITIVE_INFINITY,
      // Kept until first used; from then on, `ttlMs` after its last use.
      keepUntilMs: Number.POSITIVE_INFINITY,
    });
  }

  async budgets(items: ReadonlyArray<{ scope: string; period: string }>) {
    const now = Date.now();
    return items.map(({ scope, period }) => {
      const b = this.budget(scope, period, now);
      return b ? { spentNano: b.spentNano, reservedNano: b.reservedNano } : undefined;
    });
  }

  async windows(names: readonly string[], nowMs: number): Promise<WindowState[]> {
    return names.map((name) => {
      const entry = this.windowsByName.get(name);
      return entry ? this.state(entry.window, nowMs) : { used: 0, freesAtMs: nowMs };
    });
  }

  async charge(items: ReadonlyArray<{ name: string; amount: number }>, nowMs: number): Promise<void> {
    for (const item of items) this.window(item.name, nowMs).add(item.amount, nowMs);
  }

  async once(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.flags.get(key);
    if (until !== undefined && until > now) return false;
    this.flags.set(key, now + ttlMs);
    return true;
  }

  async close(): Promise<void> {}

  /** Drops idle windows and expired budgets and flags, at most once a minute. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < 60_000) return;
    this.lastSweepMs = nowMs;
    for (const [name, entry] of this.windowsByName) {
      if (nowMs - entry.lastUseMs > WINDOW_KEEP_MS) this.windowsByName.delete(name);
    }
    for (const [key, budget] of this.budgetsByKey) {
      if (budget.keepUntilMs < nowMs && budget.reservations.size === 0) this.budgetsByKey.delete(key);
    }
    for (const [key, until] of this.flags) if (until <= nowMs) this.flags.delete(key);
  }
}

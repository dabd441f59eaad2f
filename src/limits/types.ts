/**
 * Shared counters for limits and money: sliding one-minute windows (key and team rpm/tpm,
 * deployment usage) and budgets with reservations. One interface, an in-process implementation
 * and a Redis one for several replicas, one contract suite (`test/limits/contract.ts`).
 *
 * Money is counted in integer nano-dollars (1e-9 USD): additions and comparisons are exact, so
 * "never over the budget" holds to the last unit, on one process or across replicas.
 */

export const NANO_PER_USD = 1_000_000_000;

export function toNano(usd: number): number {
  return Math.ceil(usd * NANO_PER_USD);
}

export function fromNano(nano: number): number {
  return nano / NANO_PER_USD;
}

/** A sliding-minute window to check (and charge) at admission. */
export interface WindowCheck {
  /** `rate:key:<id>:requests`, `rate:team:<name>:tokens`, ... */
  name: string;
  /** Refuse when the minute's sum plus `amount` would exceed this; undefined: only charge. */
  limit: number | undefined;
  amount: number;
}

export interface WindowState {
  /** The minute's sum after this admission (or as it stood, when refused). */
  used: number;
  /** When the oldest counted second leaves the window (epoch ms); now when empty. */
  freesAtMs: number;
}

/** A budget (or a spend counter without a limit) for one scope in one period. */
export interface BudgetCheck {
  /** `key:<id>`, `team:<name>`, `provider:<id>`. */
  scope: string;
  /** The period's label (`2026-12`, `total`): a new period is a new counter, nothing is reset. */
  period: string;
  /** A hard limit: admission refuses when spent + reserved + amount would exceed it. */
  limitNano: number | undefined;
  /** Reserved until settled (0 for soft budgets and plain spend counters). */
  amountNano: number;
  /** When a reservation nobody settled (a crashed replica's) is released by itself. */
  expiresAtMs: number;
  /** How long the counter is kept after its last use (past the period's end). */
  ttlMs: number;
}

export interface AdmitRequest {
  /** The reservation's id (the request id). */
  id: string;
  nowMs: number;
  windows: WindowCheck[];
  budgets: BudgetCheck[];
}

export type AdmitResult =
  | { ok: true; windows: WindowState[] }
  | { ok: false; refused: 'window'; index: number; windows: WindowState[] }
  | { ok: false; refused: 'budget'; index: number; spentNano: number; reservedNano: number }
  /** The budget counter of this period does not exist yet: seed it from the ledger, then admit again. */
  | { ok: false; refused: 'seed'; index: number };

export interface SettleRequest {
  id: string;
  nowMs: number;
  /** Corrections to amounts charged at admission (tokens: estimate → real usage). */
  windows: Array<{ name: string; atMs: number; delta: number }>;
  /** The real cost to add to each budget; its reservation (if any) is released. */
  budgets: Array<{ scope: string; period: string; actualNano: number; ttlMs: number }>;
}

export type SettleResult = { ok: true; spentNano: number[] } | { ok: false; seedIndex: number };

export interface LimitStore {
  readonly kind: 'memory' | 'redis';
  /** Checks every window and hard budget, and only if all pass charges them all: one atomic step. */
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /**
   * Settles a reservation to the real cost; answers each budget's spent after it, or which budget
   * counter no longer exists (Redis restarted, or it expired): seed it from the ledger and settle again.
   */
  settle(request: SettleRequest): Promise<SettleResult>;
  /** Creates a budget counter with `spentNano` unless it exists (idempotent across replicas). */
  seed(scope: string, period: string, spentNano: number, ttlMs: number): Promise<void>;
  /** Spent and reserved per budget counter; undefined when it was never seeded. */
  budgets(
    items: ReadonlyArray<{ scope: string; period: string }>,
  ): Promise<Array<{ spentNano: number; reservedNano: number } | undefined>>;
  /** The minute's sums of some windows (without charging). */
  windows(names: readonly string[], nowMs: number): Promise<WindowState[]>;
  /** Adds to windows without any check (deployment usage); corrections go through `settle`. */
  charge(items: ReadonlyArray<{ name: string; amount: number }>, nowMs: number): Promise<void>;
  /** True the first time it is called with `key` within `ttlMs`, on every replica together. */
  once(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The window is one minute of one-second buckets. */
export const WINDOW_SECONDS = 60;

/**
 * Budget and commitment periods in UTC, computed from the clock: nothing resets a counter, so two
 * replicas (or a restart at midnight) can never disagree on which period a request belongs to.
 */
import type { BudgetPeriod } from '../config/schema.ts';

const DAY_MS = 86_400_000;

/** Start of the period holding `nowMs` (epoch ms). Weeks start on Monday (ISO 8601). */
export function periodStart(period: BudgetPeriod, nowMs: number): number {
  const d = new Date(nowMs);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  switch (period) {
    case 'day':
      return midnight;
    case 'week':
      return midnight - ((d.getUTCDay() + 6) % 7) * DAY_MS;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'total':
      return 0;
  }
}

/** End (exclusive) of the period holding `nowMs`; Infinity for `total`. */
export function periodEnd(period: BudgetPeriod, nowMs: number): number {
  const start = periodStart(period, nowMs);
  const d = new Date(start);
  switch (period) {
    case 'day':
      return start + DAY_MS;
    case 'week':
      return start + 7 * DAY_MS;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    case 'total':
      return Number.POSITIVE_INFINITY;
  }
}

/** A short, stable name of the period holding `nowMs`: `2026-12-07`, `2026-W50` (its Monday's date), `2026-12`, `total`. */
export function periodLabel(period: BudgetPeriod, nowMs: number): string {
  const start = new Date(periodStart(period, nowMs)).toISOString();
  switch (period) {
    case 'day':
      return start.slice(0, 10);
    case 'week':
      return `week-${start.slice(0, 10)}`;
    case 'month':
      return start.slice(0, 7);
    case 'total':
      return 'total';
  }
}

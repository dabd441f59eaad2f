/**
 * The daily spend roll-up: per UTC day and scope, the USD and the number of requests. It is
 * written in the same transaction as the records it sums and retention never deletes it, so
 * budgets over long periods (`total`) and commitments survive the request log's retention.
 */
import type { RequestRecord } from '../telemetry/record.ts';
import type { SpendScope } from './types.ts';

const DAY_MS = 86_400_000;
let lastDay = Number.NaN;
let lastDayText = '';

/** `2026-03-01` for any time on that UTC day (the last day's text is kept: batches share a day). */
export function utcDay(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    lastDay = day;
    lastDayText = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  return lastDayText;
}

/** The roll-up's `scope` column: `key:<id>`, `team:<name>` or `provider:<id>`. */
export function scopeText(scope: SpendScope): string {
  switch (scope.kind) {
    case 'key':
      return `key:${scope.id}`;
    case 'team':
      return `team:${scope.name}`;
    case 'provider':
      return `provider:${scope.id}`;
  }
}

/** Every scope a record's cost counts towards. */
export function recordScopes(record: RequestRecord): string[] {
  const scopes: string[] = [];
  if (record.keyId !== null) scopes.push(scopeText({ kind: 'key', id: record.keyId }));
  if (record.team !== null) scopes.push(scopeText({ kind: 'team', name: record.team }));
  if (record.provider !== null) scopes.push(scopeText({ kind: 'provider', id: record.provider }));
  return scopes;
}

export interface SpendIncrement {
  scope: string;
  day: string;
  usd: number;
  requests: number;
}

/**
 * A batch summed per (scope, day), so each roll-up row is upserted once per batch (PostgreSQL
 * refuses an `ON CONFLICT DO UPDATE` that touches one row twice in a statement). An unpriced
 * request (cost null) adds a request and no USD.
 */
export function rollUp(records: readonly RequestRecord[]): SpendIncrement[] {
  const sums = new Map<string, SpendIncrement>();
  for (const record of records) {
    const day = utcDay(record.startedAtMs);
    const usd = typeof record.costUsd === 'number' && Number.isFinite(record.costUsd) ? record.costUsd : 0;
    for (const scope of recordScopes(record)) {
      const id = `${scope}\u0000${day}`;
      const sum = sums.get(id);
      if (sum) {
        sum.usd += usd;
        sum.requests += 1;
      } else {
        sums.set(id, { scope, day, usd, requests: 1 });
      }
    }
  }
  return [...sums.values()];
}

/**
 * Usage reports shared by every store and by the views that print them (`/admin/usage`,
 * `switchyard usage`): which column each grouping reads, the label of records without one, the
 * row order and the CSV form.
 */
import type { SqlRow } from './rows.ts';
import type { UsageGroupBy, UsageRow } from './types.ts';

export const USAGE_GROUPS: readonly UsageGroupBy[] = ['key', 'team', 'provider', 'model', 'deployment'];

/** The request-log column each grouping reads (also the only text ever put into a GROUP BY). */
export const USAGE_GROUP_COLUMN: Readonly<Record<UsageGroupBy, string>> = {
  key: 'key_name',
  team: 'team',
  provider: 'provider',
  model: 'model',
  deployment: 'deployment',
};

/**
 * The group of records that have no value for the grouping (no team, unauthenticated, or failed
 * before a provider was chosen). They are kept as a row so every grouping adds up to the same total.
 */
export const NO_GROUP = '(none)';

/**
 * An unpriced request is one a cloud served (a provider answered with success) whose cost is
 * unknown: a refused or failed request cost nothing and is not missing a price. The same rule as
 * `switchyard_unpriced_requests_total`.
 */
const SERVED_WITHOUT_COST = 'cost_usd IS NULL AND provider IS NOT NULL AND status < 400';

export function isUnpriced(record: {
  costUsd: number | null;
  provider: string | null;
  status: number;
}): boolean {
  return record.costUsd === null && record.provider !== null && record.status < 400;
}

export function isUsageGroupBy(value: string): value is UsageGroupBy {
  return (USAGE_GROUPS as readonly string[]).includes(value);
}

/** Most expensive first, then busiest, then by name: the same order from every store. */
export function sortUsageRows(rows: UsageRow[]): UsageRow[] {
  return rows.sort(
    (a, b) =>
      b.costUsd - a.costUsd ||
      b.requests - a.requests ||
      (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
  );
}

/**
 * The usage query of both SQL stores over [from, to); `placeholder` writes the driver's parameter
 * syntax. Sums come back as numbers or numeric strings depending on the driver: `usageRow` reads both.
 */
export function usageSql(groupColumn: string, placeholder: (n: number) => string = () => '?'): string {
  // An empty value (the model of a request refused before its body was read) is no value either.
  return `SELECT COALESCE(NULLIF(${groupColumn}, ''), '${NO_GROUP}') AS grp,
      COUNT(*) AS requests,
      COALESCE(SUM(input_tokens), 0) AS input_tokens,
      COALESCE(SUM(output_tokens), 0) AS output_tokens,
      COALESCE(SUM(cost_usd), 0) AS cost_usd,
      SUM(CASE WHEN ${SERVED_WITHOUT_COST} THEN 1 ELSE 0 END) AS unpriced
    FROM requests
    WHERE started_at_ms >= ${placeholder(1)} AND started_at_ms < ${placeholder(2)}
    GROUP BY grp`;
}

export function usageRow(row: SqlRow): UsageRow {
  return {
    group: String(row.grp),
    requests: Number(row.requests),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    unpricedRequests: Number(row.unpriced),
  };
}

export const USAGE_CSV_COLUMNS = [
  'group',
  'requests',
  'inputTokens',
  'outputTokens',
  'costUsd',
  'unpricedRequests',
] as const;

/** CSV with a header line (RFC 4180 quoting; lines end in \n): fields holding a comma, quote or line break are quoted. */
export function usageToCsv(rows: readonly UsageRow[]): string {
  const lines = [USAGE_CSV_COLUMNS.join(',')];
  for (const row of rows) lines.push(USAGE_CSV_COLUMNS.map((c) => csvField(String(row[c]))).join(','));
  return `${lines.join('\n')}\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

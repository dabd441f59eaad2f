/**
 * `switchyard usage`: requests, tokens and cost from the request log, grouped by key, team,
 * provider, model or deployment over a time range: the rows `/admin/usage` answers, read from
 * the configured store directly.
 */
import { parseArgs } from 'node:util';
import type { UsageGroupBy, UsageRow } from '../state/types.ts';
import { USAGE_GROUPS, usageToCsv } from '../state/usage.ts';
import {
  choiceFlag,
  FlagError,
  formatTable,
  isoTime,
  isoTimeFlag,
  requireFlag,
  withConfiguredStore,
  withFlagErrors,
} from './flags.ts';

export const USAGE_HELP = `Usage: switchyard usage --config FILE [--group-by key|team|provider|model|deployment]
                        [--from ISO] [--to ISO] [--format table|csv|json]

Prints requests, input and output tokens and cost (USD) from the request log of the configured
storage, one row per group, most expensive first. Requests that started in [--from, --to) count;
the default is the current calendar month (UTC). --from and --to take a date (2026-03-01, UTC
midnight) or a time with its zone (2026-03-01T09:00:00Z). --group-by defaults to key.
Requests without a price are counted in the unpriced column, never as $0; records without a
value for the grouping (no team, say) form the group "(none)".`;

const FORMATS = ['table', 'csv', 'json'] as const;
type Format = (typeof FORMATS)[number];

interface UsageReport {
  groupBy: UsageGroupBy;
  fromMs: number;
  toMs: number;
  format: Format;
}

export function usageCommand(args: string[]): Promise<number> {
  return withFlagErrors('usage', USAGE_HELP, async () => {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        'group-by': { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
      },
    });
    const configFile = requireFlag('config', values.config);
    const report = usageReport(values);
    // Other reports over the same store (such as commitments) branch off here, before the usage query.
    return withConfiguredStore(configFile, async (store) => {
      const rows = await store.usage(report.groupBy, report.fromMs, report.toMs);
      process.stdout.write(renderUsage(rows, report, store.kind));
      return 0;
    });
  });
}

function usageReport(values: {
  'group-by'?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  format?: string | undefined;
}): UsageReport {
  const now = new Date();
  const fromMs = isoTimeFlag('from', values.from) ?? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const toMs = isoTimeFlag('to', values.to) ?? Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  if (fromMs >= toMs) {
    throw new FlagError(`--from (${isoTime(fromMs)}) must be before --to (${isoTime(toMs)})`);
  }
  return {
    groupBy: choiceFlag('group-by', values['group-by'], USAGE_GROUPS) ?? 'key',
    fromMs,
    toMs,
    format: choiceFlag('format', values.format, FORMATS) ?? 'table',
  };
}

function renderUsage(rows: UsageRow[], report: UsageReport, storeKind: string): string {
  if (report.format === 'csv') return usageToCsv(rows);
  if (report.format === 'json') {
    const body = { groupBy: report.groupBy, from: isoTime(report.fromMs), to: isoTime(report.toMs), rows };
    return `${JSON.stringify(body, null, 2)}\n`;
  }
  const total = rows.reduce(
    (sum, r) => ({
      requests: sum.requests + r.requests,
      inputTokens: sum.inputTokens + r.inputTokens,
      outputTokens: sum.outputTokens + r.outputTokens,
      costUsd: sum.costUsd + r.costUsd,
      unpricedRequests: sum.unpricedRequests + r.unpricedRequests,
    }),
    { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedRequests: 0 },
  );
  const cells = (group: string, r: Omit<UsageRow, 'group'>) => [
    group,
    String(r.requests),
    String(r.inputTokens),
    String(r.outputTokens),
    r.costUsd.toFixed(4),
    String(r.unpricedRequests),
  ];
  const title = `Usage by ${report.groupBy}, ${isoTime(report.fromMs)} to ${isoTime(report.toMs)} (${storeKind} store)`;
  const table = formatTable(
    [report.groupBy.toUpperCase(), 'REQUESTS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST USD', 'UNPRICED'],
    [...rows.map((r) => cells(r.group, r)), cells('TOTAL', total)],
    [false, true, true, true, true, true],
  );
  const note =
    total.unpricedRequests > 0
      ? `\n${total.unpricedRequests} requests have no price: their cost is unknown and not in COST USD. ` +
        'Add a price to their deployments (price: {input, output}).\n'
      : '';
  return `${title}\n\n${table}\n${note}`;
}

/**
 * `switchyard usage`: requests, tokens and cost from the request log, grouped by key, team,
 * provider, model or deployment over a time range: the rows `/admin/usage` answers, read from
 * the configured store directly.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/schema.ts';
import { Limits } from '../limits/admission.ts';
import { type CommitmentStatus, commitmentStatus } from '../limits/commitments.ts';
import { MemoryLimitStore } from '../limits/memory.ts';
import { RedisLimitStore } from '../limits/redis.ts';
import type { Store, UsageGroupBy, UsageRow } from '../state/types.ts';
import { USAGE_GROUPS, usageToCsv } from '../state/usage.ts';
import { createLogger } from '../telemetry/log.ts';
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
       switchyard usage --config FILE --commitments [--format table|json]

Prints requests, input and output tokens and cost (USD) from the request log of the configured
storage, one row per group, most expensive first. Requests that started in [--from, --to) count;
the default is the current calendar month (UTC). --from and --to take a date (2026-03-01, UTC
midnight) or a time with its zone (2026-03-01T09:00:00Z). --group-by defaults to key.
Requests without a price are counted in the unpriced column, never as $0; records without a
value for the grouping (no team, say) form the group "(none)".

--commitments prints each provider commitment's burn-down instead, as GET /admin/commitments does:
committed, used, remaining and the projected use at the end of the period at the rate so far.
Spend is read from Redis when redis: is configured (what the running gateways count), else from
the request log; provisioned throughput (tokens per minute) is only known to Redis.`;

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
        commitments: { type: 'boolean' },
      },
    });
    const configFile = requireFlag('config', values.config);
    const report = usageReport(values);
    if (values.commitments) {
      return withConfiguredStore(configFile, async (store, config) => {
        const statuses = await readCommitments(store, config);
        process.stdout.write(renderCommitments(statuses, report.format));
        return 0;
      });
    }
    return withConfiguredStore(configFile, async (store) => {
      const rows = await store.usage(report.groupBy, report.fromMs, report.toMs);
      process.stdout.write(renderUsage(rows, report, store.kind));
      return 0;
    });
  });
}

/** The burn-down as the gateways see it: from Redis when configured, else seeded from the ledger. */
async function readCommitments(store: Store, config: Config): Promise<CommitmentStatus[]> {
  const limitStore = config.redis ? new RedisLimitStore(config.redis) : new MemoryLimitStore();
  try {
    if (limitStore instanceof RedisLimitStore) await limitStore.connect();
    const limits = new Limits({
      store: limitStore,
      ledger: store,
      log: createLogger(() => {}),
      metrics: { budgetAlert() {}, sharedStateError() {}, rateLimited() {} },
      webhook: undefined,
      commitments: new Map(),
    });
    return await commitmentStatus(config, limits);
  } finally {
    await limitStore.close();
  }
}

function renderCommitments(statuses: CommitmentStatus[], format: Format): string {
  if (format === 'json') return `${JSON.stringify({ data: statuses }, null, 2)}\n`;
  if (statuses.length === 0) return 'no provider declares a commitment\n';
  const money = (s: CommitmentStatus, n: number) =>
    s.unit === 'usd' ? `$${n.toFixed(2)}` : String(Math.round(n));
  return `${formatTable(
    ['PROVIDER', 'KIND', 'PERIOD', 'COMMITTED', 'USED', 'REMAINING', 'PROJECTED'],
    statuses.map((s) => [
      s.provider,
      s.kind,
      s.period,
      money(s, s.committed),
      money(s, s.used),
      money(s, s.remaining),
      money(s, s.projected),
    ]),
    [false, false, false, true, true, true, true],
  )}\n`;
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

/**
 * Commitments: spend a provider was committed to per period (`commitment: {usd, period}`), or
 * throughput provisioned at it (`commitment: {tpm}`, Azure PTU, Bedrock provisioned throughput).
 * Their burn-down for `/admin/commitments` and `switchyard usage --commitments`, and whether they
 * still have room, which `strategy: commitment-first` fills before pay-as-you-go.
 */
import type { Config } from '../config/schema.ts';
import { periodEnd, periodLabel, periodStart } from '../governance/periods.ts';
import type { CommitmentView as PlanCommitment } from '../routing/plan.ts';
import type { Limits } from './admission.ts';
import { commitmentWindow } from './admission.ts';

export interface CommitmentStatus {
  provider: string;
  /** `spend` (USD per period) or `throughput` (tokens per minute). */
  kind: 'spend' | 'throughput';
  /** `2026-12` (spend), or `minute` (throughput). */
  period: string;
  unit: 'usd' | 'tokens/minute';
  committed: number;
  used: number;
  remaining: number;
  /** Spend: what the period will come to at the rate so far. Throughput: the current minute's use. */
  projected: number;
  /** Spend: the period's bounds (ISO); throughput: null. */
  periodStart: string | null;
  periodEnd: string | null;
}

export async function commitmentStatus(
  config: Pick<Config, 'providers'>,
  limits: Limits,
  providerIds?: ReadonlySet<string>,
  nowMs = Date.now(),
): Promise<CommitmentStatus[]> {
  const providers = config.providers.filter(
    (p) => p.commitment !== undefined && (providerIds === undefined || providerIds.has(p.id)),
  );
  return Promise.all(
    providers.map(async (p): Promise<CommitmentStatus> => {
      const c = p.commitment!;
      if (c.tpm !== undefined) {
        const [window] = await limits.store.windows([commitmentWindow(p.id)], nowMs);
        const used = window?.used ?? 0;
        return {
          provider: p.id,
          kind: 'throughput',
          period: 'minute',
          unit: 'tokens/minute',
          committed: c.tpm,
          used,
          remaining: Math.max(0, c.tpm - used),
          projected: used,
          periodStart: null,
          periodEnd: null,
        };
      }
      const committed = c.usd ?? 0;
      const used = await limits.spent(`provider:${p.id}`, c.period, nowMs);
      const start = periodStart(c.period, nowMs);
      const end = periodEnd(c.period, nowMs);
      const elapsed = nowMs - start;
      const projected = Number.isFinite(end) && elapsed > 0 ? (used * (end - start)) / elapsed : used;
      return {
        provider: p.id,
        kind: 'spend',
        period: periodLabel(c.period, nowMs),
        unit: 'usd',
        committed,
        used,
        remaining: Math.max(0, committed - used),
        projected: Math.round(projected * 1e6) / 1e6,
        periodStart: new Date(start).toISOString(),
        periodEnd: Number.isFinite(end) ? new Date(end).toISOString() : null,
      };
    }),
  );
}

/** For the planner: per provider, whether its commitment has room left, and how much. */
export function planCommitments(statuses: readonly CommitmentStatus[]): Map<string, PlanCommitment> {
  return new Map(
    statuses.map((s) => [
      s.provider,
      {
        available: s.remaining > 0,
        detail:
          s.unit === 'usd'
            ? `$${s.remaining.toFixed(2)} of $${s.committed} left this ${s.period}`
            : `${s.remaining} of ${s.committed} tokens/minute free`,
      },
    ]),
  );
}

/** Read-only views of live state for the admin API: deployments (routing) and teams (governance). */
import type { Runtime } from '../gateway/runtime.ts';
import { periodStart } from '../governance/periods.ts';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Every deployment once (a deployment shared by several models is listed once, with all of them). */
export function deploymentsView(rt: Runtime) {
  const now = Date.now();
  const byKey = new Map<string, { models: string[]; view: () => Record<string, unknown> }>();
  for (const { model } of rt.models.values()) {
    for (const d of model.deployments) {
      const entry = byKey.get(d.key);
      if (entry) {
        entry.models.push(model.name);
        continue;
      }
      const models = [model.name];
      byKey.set(d.key, {
        models,
        view: () => {
          const v = rt.states.view(d.key, model.routing.circuitBreaker, now);
          const reported = rt.states.reported(d.key);
          return {
            provider: d.provider.id,
            model: d.model,
            models,
            region: d.provider.region,
            circuit: v.circuit,
            circuitRetryAt: v.circuit === 'closed' ? null : iso(v.circuitRetryAtMs),
            inFlight: v.inFlight,
            latency: {
              ttftMs: v.ttftEwmaMs === undefined ? null : Math.round(v.ttftEwmaMs),
              totalMs: v.latencyEwmaMs === undefined ? null : Math.round(v.latencyEwmaMs),
            },
            rpm: { used: v.rpmUsed, limit: d.rpm ?? null },
            tpm: { used: Math.round(v.tpmUsed), limit: d.tpm ?? null },
            throttledUntil: v.throttledUntilMs > now ? iso(v.throttledUntilMs) : null,
            reported: reported
              ? {
                  at: iso(reported.atMs),
                  remainingRequests: reported.remainingRequests ?? null,
                  remainingTokens: reported.remainingTokens ?? null,
                  requestsResetAt: iso(reported.requestsResetAtMs),
                  tokensResetAt: iso(reported.tokensResetAtMs),
                }
              : null,
          };
        },
      });
    }
  }
  return [...byKey.values()].map((e) => e.view());
}

/** The configured teams with their limits and what they spent in their budget's period (this month without one). */
export async function teamsView(rt: Runtime) {
  await rt.requestLog.flush();
  const now = Date.now();
  return Promise.all(
    rt.config.teams.map(async (t) => {
      const period = t.budget?.period ?? 'month';
      const since = periodStart(period, now);
      const spent = await rt.store.spendSince({ kind: 'team', name: t.name }, since);
      return {
        name: t.name,
        models: t.models ?? null,
        rpm: t.rpm ?? null,
        tpm: t.tpm ?? null,
        budget: t.budget ?? null,
        boundary: t.boundary ?? null,
        spend: { period, since: new Date(since).toISOString(), usd: spent },
      };
    }),
  );
}

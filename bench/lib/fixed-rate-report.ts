/** Section 2 of the report: latency at the fixed rate, medians across the interleaved rounds. */

import { SETTINGS } from './args.ts';
import { label, MODES } from './requests.ts';
import { allRoundsSummaries, pairedFixedRateDifference, roundsSummary } from './rounds.ts';
import { SCENARIOS } from './scenarios.ts';
import { fixed, int, signed, table } from './table.ts';

export function fixedRateSection(out: string[]): void {
  const summaries = allRoundsSummaries();
  if (!summaries.length) return;
  const rounds = Math.max(...summaries.map((s) => s.rounds));
  out.push('');
  out.push(
    `2. Latency at a fixed ${int(SETTINGS.fixedRate)} req/s (paced evenly over ${SETTINGS.connections} connections, ` +
      `${SETTINGS.fixedRateSec} s per run, ms): median of ${rounds} interleaved round${rounds === 1 ? '' : 's'}`,
  );
  out.push(
    '   Whole-response time, request written → last byte; for streaming that includes the whole stream.',
  );
  out.push(
    `   Each round runs direct, proxy and the gateways back to back per mode (each run after ${SETTINGS.fixedRateWarmupSec} s\n` +
      `   at the rate; streaming only direct, proxy and ${label(SETTINGS.streamingFixedRateGateway)}), so a slow period hits them all;\n` +
      '   every column is its median across the rounds. "host steal": cores the host took from this VM during\n' +
      '   the run (/proc/stat, 10 ms ticks): above zero, the processes here waited for the host at random moments.',
  );
  out.push(
    table(
      [
        'run',
        'req/s',
        'p50',
        'p90',
        'p99',
        'p99.9',
        'max',
        'server CPU µs/req',
        'other cores',
        'host steal',
        'late sends',
      ],
      summaries.map((s) => [
        `${s.mode} ${label(s.target)}`,
        int(s.rps),
        fixed(s.p50, 2),
        fixed(s.p90, 2),
        fixed(s.p99, 2),
        fixed(s.p999, 2),
        fixed(s.max, 2),
        fixed(s.serverCpuUsPerRequest, 0),
        fixed(s.otherCores, 2),
        fixed(s.stealCores, 3),
        fixed(s.late, s.rounds % 2 ? 0 : 1),
      ]),
    ),
  );
  if (rounds > 1) {
    out.push('');
    out.push(
      table(
        ['p99 per round (ms)', ...Array.from({ length: rounds }, (_, i) => `r${i + 1}`), 'median', 'max−min'],
        summaries.map((s) => [
          `${s.mode} ${label(s.target)}`,
          ...Array.from({ length: rounds }, (_, i) => fixed(s.p99PerRound[i] ?? Number.NaN, 2)),
          fixed(s.p99, 2),
          fixed(Math.max(...s.p99PerRound) - Math.min(...s.p99PerRound), 2),
        ]),
      ),
    );
  }
  addedSection(out, rounds);
}

/**
 * What each hop adds: over direct (median minus median, as the p99 target is defined), the
 * gateway's added p99 over the proxy's, and each configuration over the plain gateway (paired
 * within each round, then the median: the cross-check of what limits, routing or the request log
 * cost per request).
 */
function addedSection(out: string[], rounds: number): void {
  const addedRows: (string | number)[][] = [];
  for (const mode of MODES) {
    const d = roundsSummary('direct', mode);
    const proxy = roundsSummary('proxy', mode);
    if (!d) continue;
    for (const target of ['proxy', ...SETTINGS.scenarios] as const) {
      const r = roundsSummary(target, mode);
      if (!r) continue;
      const overProxy = target !== 'proxy' && proxy ? signed(r.p99 - proxy.p99, 2) : '';
      const vsPlain =
        target !== 'proxy' && SCENARIOS[target].versusPlain
          ? {
              p50: pairedFixedRateDifference(mode, target, 'plain', (x) => x.load.latencyMs.p50),
              p99: pairedFixedRateDifference(mode, target, 'plain', (x) => x.load.latencyMs.p99),
            }
          : undefined;
      addedRows.push([
        `${mode} ${label(target)}`,
        signed(r.p50 - d.p50, 2),
        signed(r.p99 - d.p99, 2),
        overProxy,
        vsPlain?.p50 ? signed(vsPlain.p50.median, 3) : '',
        vsPlain?.p99 ? signed(vsPlain.p99.median, 2) : '',
      ]);
    }
  }
  if (!addedRows.length) return;
  out.push('');
  out.push(
    table(
      [
        `added latency (ms; median of ${rounds} round${rounds === 1 ? '' : 's'})`,
        'p50 vs direct',
        'p99 vs direct',
        'p99 over proxy',
        'p50 vs gw plain',
        'p99 vs gw plain',
      ],
      addedRows,
    ),
  );
  out.push(
    '  ("vs direct" and "over proxy": median minus median; "vs gw plain": the difference within each round,\n' +
      "   then the median. p50 differences are the stable ones: at p99 this machine's scheduling gaps dominate.)",
  );
}

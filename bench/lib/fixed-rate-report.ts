/** Section 2 of the report: latency at the fixed rate, medians across the interleaved rounds. */

import { SETTINGS } from './args.ts';
import { LABEL, MODES } from './requests.ts';
import { allRoundsSummaries, roundsSummary } from './rounds.ts';
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
    `   Each round runs direct, proxy and gateway back to back per mode (each run after ${SETTINGS.fixedRateWarmupSec} s\n` +
      '   at the rate), so a slow period hits all three; every column is its median across the rounds.\n' +
      '   "host steal": cores the host took from this VM during the run (/proc/stat, 10 ms ticks): above\n' +
      '   zero, the processes here waited for the host at random moments.',
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
        `${s.mode} ${LABEL[s.target]}`,
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
          `${s.mode} ${LABEL[s.target]}`,
          ...Array.from({ length: rounds }, (_, i) => fixed(s.p99PerRound[i] ?? Number.NaN, 2)),
          fixed(s.p99, 2),
          fixed(Math.max(...s.p99PerRound) - Math.min(...s.p99PerRound), 2),
        ]),
      ),
    );
  }
  const addedRows: (string | number)[][] = [];
  for (const mode of MODES) {
    const d = roundsSummary('direct', mode);
    if (!d) continue;
    for (const target of ['proxy', 'gateway'] as const) {
      const r = roundsSummary(target, mode);
      if (!r) continue;
      addedRows.push([`${mode} ${LABEL[target]}`, signed(r.p50 - d.p50, 2), signed(r.p99 - d.p99, 2)]);
    }
  }
  if (addedRows.length) {
    out.push('');
    out.push(
      table(
        [`added vs direct (median of ${rounds} round${rounds === 1 ? '' : 's'})`, 'p50 ms', 'p99 ms'],
        addedRows,
      ),
    );
  }
}

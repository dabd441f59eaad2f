/**
 * Sections 3 to 5 of the report: each gateway's memory, the governed gateway's request log, the
 * routing gateway's spread over its deployments, and the cost of admission and settlement.
 */

import { ADMISSION_TARGET_P50_MS, admissionTable } from './admission-result.ts';
import { SETTINGS } from './args.ts';
import { label, MODES } from './requests.ts';
import { median, pairedFixedRateDifference, phaseRuns } from './rounds.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { state } from './state.ts';
import { fixed, int, mib, percent, signed, table } from './table.ts';
import type { MemoryReport } from './targets.ts';

const arrow = (a: number, b: number, c: number) => `${mib(a)} → ${mib(b)} → ${mib(c)}`;

/**
 * The gateways' garbage collection at saturation (gc-probe.ts): the mean scavenge pause tells
 * whether most of each request's garbage is being promoted (15-30 ms) or dies young (1-4 ms).
 */
export function gcTable(out: string[]): void {
  const rows: (string | number)[][] = [];
  for (const mode of MODES) {
    for (const s of SETTINGS.scenarios) {
      const runs = phaseRuns('saturation', s, mode).filter((r) => r.gc);
      if (!runs.length) continue;
      const med = (f: (g: NonNullable<(typeof runs)[number]['gc']>) => number) =>
        median(runs.map((r) => f(r.gc!)));
      rows.push([
        `${mode} ${label(s)}`,
        runs.map((r) => fixed(r.gc!.scavengeMeanMs, 1)).join(' '),
        fixed(
          med((g) => g.scavenges),
          0,
        ),
        fixed(
          med((g) => g.majors),
          0,
        ),
        fixed(
          med((g) => g.gcUsPerRequest),
          0,
        ),
      ]);
    }
  }
  if (!rows.length) return;
  out.push('');
  out.push(
    table(
      [
        'gateway GC at saturation',
        'mean scavenge ms per round',
        'scavenges/run',
        'mark-compacts/run',
        'GC pause µs/req',
      ],
      rows,
    ),
  );
  out.push(
    '  (1-4 ms scavenges: request garbage dies young; 15-30 ms: much of it is promoted, which costs CPU per\n' +
      '   request; see docs/benchmarks.md. Medians across rounds except the per-round column.)',
  );
}

/** 3. Memory of each gateway. */
export function memorySection(out: string[], memory: Partial<Record<string, MemoryReport>>): void {
  const reports = SETTINGS.scenarios.flatMap((s) => (memory[s] ? [[s, memory[s]] as const] : []));
  if (!reports.length) return;
  out.push('');
  out.push(
    `3. Gateway memory over ${SETTINGS.memorySec} s at ${int(SETTINGS.fixedRate)} req/s each (one gateway at a time, ` +
      'alternating streaming and non-streaming); RSS, and the live heap after a full GC (the leak check)',
  );
  const rows = reports.map(([s, m]) => {
    const run = state.records.find((r) => r.phase === 'memory' && r.target === s);
    const live = m.liveHeap;
    return [
      label(s),
      run ? int(run.load.ok) : '',
      run ? fixed(run.load.latencyMs.p99, 2) : '',
      arrow(m.startBytes, m.midBytes, m.endBytes),
      live ? arrow(live.startBytes, live.midBytes, live.endBytes) : 'not measured',
      live ? `${signed(live.secondHalfGrowth * 100, 1)}%` : '',
      `${signed(m.secondHalfGrowth * 100, 1)}%`,
    ];
  });
  out.push(
    table(
      [
        'gateway',
        'responses',
        'p99 ms',
        'RSS MiB start → mid → end',
        'live heap MiB start → mid → end',
        'live 2nd half',
        'RSS 2nd half',
      ],
      rows,
    ),
  );
  const longest = Math.max(...reports.map(([, m]) => m.samples.length));
  out.push('');
  out.push(
    table(
      [
        'live heap MiB by sample',
        ...Array.from({ length: longest }, (_, i) => `${i * SETTINGS.memorySampleSec}s`),
      ],
      reports.map(([s, m]) => [
        label(s),
        ...m.samples.map((x) => (x.liveHeapBytes === undefined ? '-' : mib(x.liveHeapBytes))),
      ]),
    ),
  );
  out.push("  (the forced full GCs make the memory runs' latency worse than the fixed-rate runs')");
}

/** 4a. The request log of the gateways that keep one (governed): its write rate at saturation. */
export function requestLogSection(out: string[]): void {
  for (const scenario of SETTINGS.scenarios.filter((s) => SCENARIOS[s].requestLog)) {
    const rows: (string | number)[][] = [];
    const medians: string[] = [];
    for (const mode of MODES) {
      const runs = phaseRuns('saturation', scenario, mode).filter((r) => r.requestLog);
      for (const r of runs) {
        const l = r.requestLog!;
        rows.push([
          `${mode} r${r.round}`,
          int(r.load.rps),
          int(l.writtenPerSec),
          int(l.enqueued),
          int(l.queuedAtEnd),
          int(l.dropped),
        ]);
      }
      if (runs.length) {
        medians.push(
          `${mode} ${int(median(runs.map((r) => r.requestLog!.writtenPerSec)))} records/s ` +
            `(serving ${int(median(runs.map((r) => r.load.rps)))} req/s)`,
        );
      }
    }
    if (!rows.length) continue;
    out.push('');
    out.push(
      `4. Request log of ${label(scenario)} at saturation (from its /metrics before and after each run): ` +
        'records written per second',
    );
    out.push(
      table(
        ['saturation run', 'served req/s', 'written rec/s', 'enqueued', 'queued at end', 'dropped'],
        rows,
      ),
    );
    out.push(`  median write rate: ${medians.join('; ')}`);
    const c = state.counters[scenario];
    if (c?.last) {
      out.push(
        `  whole run (every phase, after the queue drained): ${int(c.last.requestLogWritten - c.first.requestLogWritten)} records written, ` +
          `${int(c.last.requestLogDropped - c.first.requestLogDropped)} dropped, ` +
          `${int(c.last.requestLogFailedFlushes - c.first.requestLogFailedFlushes)} failed writes, for ` +
          `${int(c.last.requests - c.first.requests)} requests recorded (switchyard_requests_total)`,
      );
    }
  }
}

/** 4b. How the routing gateway spread its requests over its deployments, and its scrapes. */
export function routingSection(out: string[]): void {
  for (const scenario of SETTINGS.scenarios.filter((s) => SCENARIOS[s].scrapeEverySec)) {
    const c = state.counters[scenario];
    if (!c?.last) continue;
    const providers = Object.keys(c.last.requestsByProvider).sort();
    const total = c.last.requests - c.first.requests;
    const runs = state.records.filter((r) => r.target === scenario && r.scrapes);
    const scrapes = runs.reduce((sum, r) => sum + r.scrapes!.count, 0);
    const slowest = Math.max(0, ...runs.map((r) => r.scrapes!.maxMs));
    out.push('');
    out.push(
      `4. ${label(scenario)}: requests per deployment over the whole run (least-latency), from its /metrics; ` +
        `${int(scrapes)} scrapes during its runs (every ${SCENARIOS[scenario].scrapeEverySec} s, slowest ` +
        `${fixed(slowest, 1)} ms, ${int(c.last.bytes)} bytes)`,
    );
    out.push(
      table(
        ['provider', 'requests', 'share'],
        providers.map((p) => {
          const n = (c.last!.requestsByProvider[p] ?? 0) - (c.first.requestsByProvider[p] ?? 0);
          return [p || '(none)', int(n), percent(n / total, 1)];
        }),
      ),
    );
  }
}

/** 5. The cost of admission and settlement: bench/limits.ts, and the gateways' cross-check. */
export function admissionSection(out: string[]): void {
  const limited = SETTINGS.scenarios.filter((s): s is ScenarioName => s === 'limits' || s === 'limits-redis');
  if (!limited.length) return;
  out.push('');
  out.push(
    '5. Admission and settlement (Limits.admit + settle on MemoryLimitStore / RedisLimitStore, no HTTP; ' +
      'bench/limits.ts, ms per request)',
  );
  const result = state.admission;
  if (result) {
    out.push(admissionTable(result.series));
    for (const [store, why] of Object.entries(result.skipped)) out.push(`  ${store}: not measured: ${why}`);
    out.push(
      `  targets: admit+settle p50 <= ${ADMISSION_TARGET_P50_MS.memory} ms in process, <= ${ADMISSION_TARGET_P50_MS.redis} ms on Redis ` +
        '(sequential: the cost of one request; "50 in flight" is a closed loop, its latency mostly queueing at the store)',
    );
  } else {
    out.push(`  not measured: ${state.admissionFailure ?? 'unknown reason'}`);
  }
  if (!SETTINGS.scenarios.includes('plain')) return;
  const rows = limited.flatMap((s) => {
    const p50 = pairedFixedRateDifference('non-streaming', s, 'plain', (r) => r.load.latencyMs.p50);
    const p99 = pairedFixedRateDifference('non-streaming', s, 'plain', (r) => r.load.latencyMs.p99);
    if (!p50 || !p99) return [];
    return [
      [
        `${label(s)} − gw plain`,
        signed(p50.median, 3),
        p50.perRound.map((v) => signed(v, 3)).join(' '),
        signed(p99.median, 2),
      ],
    ];
  });
  if (!rows.length) return;
  out.push('');
  out.push(
    `  Cross-check through the gateway: latency added over gw plain at ${int(SETTINGS.fixedRate)} req/s, non-streaming ` +
      '(difference within each round, then the median)',
  );
  out.push(table(['gateways', 'p50 ms', 'p50 per round', 'p99 ms'], rows));
}

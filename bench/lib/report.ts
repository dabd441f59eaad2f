/** The benchmark's report: the tables printed to stdout at the end of a run. */

import { cpus, totalmem } from 'node:os';
import { NOISE_CORES, SETTINGS } from './args.ts';
import { fixedRateSection } from './fixed-rate-report.ts';
import type { LoadResult } from './load.ts';
import { gitDescription } from './repo.ts';
import { LABEL, MODES } from './requests.ts';
import { allSaturationSummaries, pairedSaturationRatio, serverCpuOf } from './rounds.ts';
import { state } from './state.ts';
import { fixed, int, mib, percent, signed, table } from './table.ts';
import type { MemoryReport, TargetCheck } from './targets.ts';

function headerSection(out: string[]): void {
  const cpu = cpus();
  out.push('Switchyard benchmark');
  out.push(
    `  ${new Date().toISOString()}  node ${process.version}  ${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}` +
      `  ${Math.round(totalmem() / 2 ** 30)} GiB  git ${gitDescription()}`,
  );
  out.push(
    `  autocannon: ${SETTINGS.connections} connections, pipelining 1, same settings for every target;` +
      ` load generator, upstream, proxy and gateway share the machine's cores.`,
  );
  out.push(
    `  Upstream: simulated OpenAI, latency 0 ms; every answer is ${SETTINGS.answerWords} words` +
      ` (streaming: ${SETTINGS.answerWords + 2} SSE chunks + [DONE]).` +
      (SETTINGS.quick ? '  QUICK MODE: short runs, a smoke check only.' : ''),
  );
  if (SETTINGS.profile || SETTINGS.allocProfile || SETTINGS.gatewayNodeFlags.length)
    out.push(
      `  DIAGNOSTIC RUN (${[SETTINGS.profile ? '--profile' : '', SETTINGS.allocProfile ? '--alloc-profile' : '', ...SETTINGS.gatewayNodeFlags].filter(Boolean).join(' ')}): ` +
        'the gateway numbers are not comparable with a normal run.',
    );
}

/** 1. Saturation. */
function saturationSection(out: string[]): void {
  if (!state.records.some((r) => r.phase === 'saturation')) return;
  const rounds = SETTINGS.saturationRounds;
  out.push('');
  out.push(
    `1. Saturation throughput (${SETTINGS.saturationSec} s per run, each after a ${SETTINGS.warmupSec} s warm-up; ` +
      `median of ${rounds} interleaved round${rounds === 1 ? '' : 's'}; latency is at saturation, so it is mostly queueing)`,
  );
  out.push(
    `   Every target and mode first had ${SETTINGS.initialWarmupSec} s of warm-up at saturation (JIT, heap sizing).`,
  );
  const satRows = allSaturationSummaries().map((s) => [
    `${s.mode} ${LABEL[s.target]}`,
    int(s.rps),
    fixed(s.p50, 2),
    fixed(s.p99, 2),
    fixed(s.serverCpuUsPerRequest, 0),
    fixed(s.upstreamCpuUsPerRequest, 0),
    fixed(s.serverCores, 2),
    fixed(s.loaderCores, 2),
    fixed(s.otherCores, 2),
    int(s.responses),
  ]);
  out.push(
    table(
      [
        'run',
        'req/s',
        'p50 ms',
        'p99 ms',
        'server CPU µs/req',
        'upstream CPU µs/req',
        'server cores',
        'loader cores',
        'other cores',
        'responses',
      ],
      satRows,
    ),
  );
  out.push(
    '  ("server" is the process under test: the upstream itself for direct, else the proxy or the gateway;\n' +
      '   "other cores": CPU used meanwhile by processes outside the benchmark, the kernel\'s own threads included;\n' +
      '   every column is the median across rounds; responses are summed)',
  );
  const ratioRows: (string | number)[][] = [];
  const perRoundRows: (string | number)[][] = [];
  for (const mode of MODES) {
    const share = pairedSaturationRatio(mode, 'gateway', 'proxy');
    const ofDirect = pairedSaturationRatio(mode, 'gateway', 'direct');
    const proxyOfDirect = pairedSaturationRatio(mode, 'proxy', 'direct');
    const cpu = pairedSaturationRatio(mode, 'gateway', 'proxy', serverCpuOf);
    if (!share || !ofDirect || !proxyOfDirect) continue;
    ratioRows.push([
      mode,
      percent(share.median, 1),
      percent(ofDirect.median, 1),
      percent(proxyOfDirect.median, 1),
      fixed(cpu?.median ?? Number.NaN, 2),
    ]);
    perRoundRows.push([mode, ...share.perRound.map((v) => percent(v, 1))]);
  }
  if (ratioRows.length) {
    out.push('');
    out.push(
      table(
        [
          'ratios (per round, then median)',
          'gateway/proxy',
          'gateway/direct',
          'proxy/direct',
          'gateway CPU per req / proxy',
        ],
        ratioRows,
      ),
    );
    out.push('');
    out.push(
      table(
        ['gateway/proxy per round', ...Array.from({ length: rounds }, (_, i) => `r${i + 1}`)],
        perRoundRows,
      ),
    );
  }
}

/** 3. Memory. */
function memorySection(out: string[], memory: MemoryReport): void {
  out.push('');
  const m = state.records.find((r) => r.phase === 'memory');
  out.push(
    `3. Gateway memory (RSS, and live heap after a full GC) over ${SETTINGS.memorySec} s at ${int(SETTINGS.fixedRate)} req/s, ` +
      `alternating streaming and non-streaming` +
      (m ? ` (${int(m.load.ok)} responses, p99 ${fixed(m.load.latencyMs.p99, 2)} ms)` : ''),
  );
  out.push(
    table(
      ['t (s)', ...memory.samples.map((s) => fixed(s.tSec, 0))],
      [
        ['RSS MiB', ...memory.samples.map((s) => mib(s.rssBytes))],
        [
          'live heap MiB',
          ...memory.samples.map((s) => (s.liveHeapBytes === undefined ? '-' : mib(s.liveHeapBytes))),
        ],
      ],
    ),
  );
  out.push(
    `  start ${mib(memory.startBytes)} MiB, end ${mib(memory.endBytes)} MiB, max ${mib(memory.maxBytes)} MiB; ` +
      `second half ${mib(memory.midBytes)} → ${mib(memory.endBytes)} MiB (${signed(memory.secondHalfGrowth * 100, 1)}%)`,
  );
  const live = memory.liveHeap;
  out.push(
    live
      ? `  live heap: start ${mib(live.startBytes)} MiB, end ${mib(live.endBytes)} MiB; second half ` +
          `${mib(live.midBytes)} → ${mib(live.endBytes)} MiB (${signed(live.secondHalfGrowth * 100, 1)}%)`
      : '  live heap: not measured (the heap probe did not answer every sample)',
  );
}

/** 4. Correctness. */
function correctnessSection(out: string[]): void {
  const records = state.records;
  out.push('');
  const measured = records.filter((r) => r.phase !== 'warm-up');
  const total = (f: (l: LoadResult) => number) => records.reduce((sum, r) => sum + f(r.load), 0);
  out.push(
    `4. Correctness: ${records.length} runs (${measured.length} measured + warm-ups), ` +
      `${int(total((l) => l.ok))} good responses; non-2xx ${total((l) => l.non2xx)}, ` +
      `errors ${total((l) => l.errors)}, timeouts ${total((l) => l.timeouts)}, wrong bodies ${total((l) => l.mismatches)}`,
  );
  out.push(
    '   (each body checked: exactly the requested words, finish_reason stop / data: [DONE], no error event)',
  );
  const noisy = measured.filter((r) => r.otherCores !== undefined && r.otherCores > NOISE_CORES);
  if (noisy.length) {
    out.push('');
    out.push(
      `   WARNING: other processes used > ${NOISE_CORES} cores during ${noisy.length} measured run(s): ` +
        noisy
          .map(
            (r) =>
              `${r.phase}${r.round === undefined ? '' : ` r${r.round}`} ${r.mode} ${LABEL[r.target]} (${fixed(r.otherCores ?? 0, 2)})`,
          )
          .join(', ') +
        '. Those numbers are disturbed; rerun on a quiet machine.',
    );
  }
}

/** 5. Targets. */
function targetsSection(out: string[], checks: TargetCheck[]): void {
  out.push('');
  out.push('5. Targets');
  out.push(
    table(
      ['target', 'measured', 'result'],
      checks.map((c) => [c.name, c.measured, c.pass ? 'PASS' : 'FAIL']),
    ),
  );
}

export function printReport(memory: MemoryReport | undefined, checks: TargetCheck[]): void {
  const out: string[] = [];
  headerSection(out);
  saturationSection(out);
  fixedRateSection(out);
  if (memory) memorySection(out, memory);
  correctnessSection(out);
  if (checks.length) targetsSection(out, checks);
  process.stdout.write(`${out.join('\n')}\n`);
}

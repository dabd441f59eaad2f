/** The benchmark's report: the tables printed to stdout at the end of a run. */

import { cpus, totalmem } from 'node:os';
import { NOISE_CORES, SETTINGS } from './args.ts';
import { fixedRateSection } from './fixed-rate-report.ts';
import type { LoadResult } from './load.ts';
import { quietStats } from './quiet.ts';
import { label, MODES } from './requests.ts';
import { allSaturationSummaries, median, pairedSaturationRatio, phaseRuns, serverCpuOf } from './rounds.ts';
import {
  admissionSection,
  gcTable,
  memorySection,
  requestLogSection,
  routingSection,
} from './scenario-report.ts';
import { SCENARIOS } from './scenarios.ts';
import { state } from './state.ts';
import { fixed, int, percent, table } from './table.ts';
import type { MemoryReport, TargetCheck } from './targets.ts';

function headerSection(out: string[]): void {
  const cpu = cpus();
  out.push('Switchyard benchmark');
  out.push(
    `  ${new Date().toISOString()}  node ${process.version}  ${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}` +
      `  ${Math.round(totalmem() / 2 ** 30)} GiB  git ${state.git} (at the start)`,
  );
  if (state.build) {
    out.push(
      `  gateway build: dist/ built ${state.build.distBuiltAt}` +
        (state.build.olderThanSrc
          ? ' (OLDER than src/: the gateway measured is not the source of this commit)'
          : ''),
    );
  }
  out.push(
    `  autocannon: ${SETTINGS.connections} connections, pipelining 1, same settings for every target;` +
      ` load generator, upstream, proxy and gateways share the machine's cores.`,
  );
  out.push(
    `  Upstream: simulated OpenAI, latency 0 ms; every answer is ${SETTINGS.answerWords} words` +
      ` (streaming: ${SETTINGS.answerWords + 2} SSE chunks + [DONE]).` +
      (SETTINGS.quick ? '  QUICK MODE: short runs, a smoke check only.' : ''),
  );
  out.push('  Gateways (each its own process, same upstream, same bare proxy, same rounds):');
  for (const s of SETTINGS.scenarios) out.push(`    ${label(s).padEnd(16)} ${SCENARIOS[s].summary}`);
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
    `   Every target and mode first had ${SETTINGS.initialWarmupSec} s of warm-up at saturation (JIT, heap sizing).` +
      ' The gateways run in a different order each round.',
  );
  const satRows = allSaturationSummaries().map((s) => [
    `${s.mode} ${label(s.target)}`,
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
  redisLine(out);
  gcTable(out);
  const ratioRows: (string | number)[][] = [];
  const perRoundRows: (string | number)[][] = [];
  for (const mode of MODES) {
    const proxyOfDirect = pairedSaturationRatio(mode, 'proxy', 'direct');
    if (proxyOfDirect) ratioRows.push([`${mode} bare proxy`, '', percent(proxyOfDirect.median, 1), '', '']);
    for (const scenario of SETTINGS.scenarios) {
      const share = pairedSaturationRatio(mode, scenario, 'proxy');
      const ofDirect = pairedSaturationRatio(mode, scenario, 'direct');
      if (!share || !ofDirect) continue;
      const cpu = pairedSaturationRatio(mode, scenario, 'proxy', serverCpuOf);
      const ofPlain = SCENARIOS[scenario].versusPlain
        ? pairedSaturationRatio(mode, scenario, 'plain')
        : undefined;
      ratioRows.push([
        `${mode} ${label(scenario)}`,
        percent(share.median, 1),
        percent(ofDirect.median, 1),
        ofPlain ? percent(ofPlain.median, 1) : '',
        fixed(cpu?.median ?? Number.NaN, 2),
      ]);
      perRoundRows.push([`${mode} ${label(scenario)}`, ...share.perRound.map((v) => percent(v, 1))]);
    }
  }
  if (ratioRows.length) {
    out.push('');
    out.push(
      table(
        [
          'throughput ratios (per round, then median)',
          'of proxy',
          'of direct',
          'of gw plain',
          'CPU per req / proxy',
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

/** The Redis server's CPU per request while limits-redis ran, and while the other gateways ran. */
function redisLine(out: string[]): void {
  if (state.redisPid === undefined || !SETTINGS.scenarios.includes('limits-redis')) return;
  const parts = MODES.map((mode) => {
    const own = median(
      phaseRuns('saturation', 'limits-redis', mode).map((r) => r.cpuUsPerRequest.redis ?? Number.NaN),
    );
    const others = median(
      SETTINGS.scenarios
        .filter((s) => s !== 'limits-redis')
        .flatMap((s) => phaseRuns('saturation', s, mode).map((r) => r.cpuUsPerRequest.redis ?? Number.NaN)),
    );
    return `${mode} ${fixed(own, 0)} (${fixed(others, 0)} during the other gateways' runs)`;
  });
  out.push(
    `  Redis server (pid ${state.redisPid}, shared with anything else using it), CPU µs per request of gw limits-redis: ${parts.join('; ')}`,
  );
}

/** 6. Correctness. */
function correctnessSection(out: string[]): void {
  const records = state.records;
  out.push('');
  const measured = records.filter((r) => r.phase !== 'warm-up');
  const total = (f: (l: LoadResult) => number) => records.reduce((sum, r) => sum + f(r.load), 0);
  out.push(
    `6. Correctness: ${records.length} runs (${measured.length} measured + warm-ups), ` +
      `${int(total((l) => l.ok))} good responses; non-2xx ${total((l) => l.non2xx)}, ` +
      `errors ${total((l) => l.errors)}, timeouts ${total((l) => l.timeouts)}, wrong bodies ${total((l) => l.mismatches)}`,
  );
  out.push(
    '   (each body checked: exactly the requested words, finish_reason stop / data: [DONE], no error event)',
  );
  if (SETTINGS.waitQuietSec > 0) {
    out.push(
      `   --wait-quiet ${SETTINGS.waitQuietSec}: waited for a quiet machine ${quietStats.waits} times, ${fixed(quietStats.waitedSec, 0)} s in all; ` +
        `ran without one ${quietStats.gaveUp} times`,
    );
  }
  const noisy = measured.filter((r) => r.otherCores !== undefined && r.otherCores > NOISE_CORES);
  if (noisy.length) {
    out.push('');
    out.push(
      `   WARNING: other processes used > ${NOISE_CORES} cores during ${noisy.length} of ${measured.length} measured runs ` +
        `(median ${fixed(median(noisy.map((r) => r.otherCores ?? 0)), 2)} cores, max ${fixed(Math.max(...noisy.map((r) => r.otherCores ?? 0)), 2)}). ` +
        'Those numbers are disturbed; rerun on a quiet machine (.bench/last.json lists each run).',
    );
  }
}

/** 7. Targets. */
function targetsSection(out: string[], checks: TargetCheck[]): void {
  out.push('');
  out.push('7. Targets');
  out.push(
    table(
      ['target', 'measured', 'result'],
      checks.map((c) => [c.name, c.measured, c.pass ? 'PASS' : 'FAIL']),
    ),
  );
}

export function printReport(memory: Partial<Record<string, MemoryReport>>, checks: TargetCheck[]): void {
  const out: string[] = [];
  headerSection(out);
  saturationSection(out);
  fixedRateSection(out);
  memorySection(out, memory);
  requestLogSection(out);
  routingSection(out);
  admissionSection(out);
  correctnessSection(out);
  if (checks.length) targetsSection(out, checks);
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * Switchyard's benchmark (`npm run bench`, or `node bench/run.ts` after `npm run build`).
 *
 * Starts three servers, each in its own process: the simulated OpenAI upstream, a bare
 * pass-through proxy in front of it, and the gateway (built CLI, generated config) in front of
 * it. Then, from this process, drives each with autocannon and reports:
 *   1. saturation throughput, non-streaming and streaming, and the gateway's share of the
 *      bare proxy's and of the direct upstream's;
 *   2. latency at a fixed request rate (paced evenly), and what the proxy and the gateway add
 *      to the direct latency at p50 and p99;
 *   3. the gateway's resident memory over a long fixed-rate run;
 *   4. the project's targets, PASS or FAIL.
 * Every run counts non-2xx answers, socket errors, timeouts and wrong bodies; any of them stops
 * the benchmark with exit code 1 (numbers measured on errors mean nothing).
 *
 * Flags: --quick (short runs: a smoke check), --json FILE (also write all numbers there),
 * --connections N (default 50), --rate N (fixed rate, default 1000), --profile (CPU-profile the
 * gateway and list its hot spots; slows it), --strict (exit 1 when a target fails).
 * Results always go to .bench/last.json as well.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GATEWAY_KEY, GATEWAY_MODEL, UPSTREAM_API_KEY, UPSTREAM_MODEL } from './lib/constants.ts';
import { type LoadResult, runLoad, stopCurrentLoad } from './lib/load.ts';
import {
  killAllSync,
  readCpuMs,
  readRssBytes,
  readSystemBusyMs,
  type Service,
  setUnexpectedExitHandler,
  startService,
  stopAll,
} from './lib/processes.ts';
import { summarizeAllocations, summarizeProfile } from './lib/profile.ts';
import { fixed, int, mib, percent, signed, table } from './lib/table.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// Settings

const USAGE = `Usage: node bench/run.ts [--quick] [--json FILE] [--connections N] [--rate N] [--profile] [--strict]
                         [--gateway-flags=FLAGS]

  --quick          short runs (3 s saturation and fixed rate, 10 s memory): a smoke check
  --json FILE      also write every number to FILE (always written to .bench/last.json)
  --connections N  autocannon connections for every run (default 50; pipelining is always 1)
  --rate N         the fixed request rate for the latency and memory runs (default 1000)
  --profile        run the gateway under node --cpu-prof and list its hot spots (slows it:
                   the numbers of a profiled run are not comparable)
  --alloc-profile  sample every allocation the gateway makes (collected garbage included) and
                   list where the bytes come from (slows it too)
  --strict         exit 1 when a target fails (errors always exit 1)
  --gateway-flags="FLAGS"
                   extra node flags for the gateway process, for diagnosis, e.g.
                   --gateway-flags=--trace-gc (not for published numbers)

Each server's output is saved in .bench/logs/NAME.log.

Needs a built gateway: run \`npm run build\` first (\`npm run bench\` does).`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a positive integer, got "${value}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

let args: ReturnType<typeof parseCli>;
function parseCli() {
  return parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'alloc-profile': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      'gateway-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}
try {
  args = parseCli();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const QUICK = args.quick;
const SETTINGS = {
  quick: QUICK,
  connections: positiveInt('--connections', args.connections, 50),
  pipelining: 1,
  fixedRate: positiveInt('--rate', args.rate, 1000),
  /** First contact with each target and mode: JIT and heap sizing settle in ~10 s of load. */
  initialWarmupSec: QUICK ? 2 : 5,
  /** Right before each measured saturation run. */
  warmupSec: 1,
  /** Right before each fixed-rate run, at that rate: lets the heap settle after saturation. */
  fixedRateWarmupSec: QUICK ? 1 : 2,
  saturationSec: QUICK ? 3 : 10,
  fixedRateSec: QUICK ? 3 : 10,
  memorySec: QUICK ? 10 : 60,
  memorySampleSec: QUICK ? 2 : 5,
  /** Words in every answer, streaming or not (`[sim:words=N]`). */
  answerWords: 20,
  profile: args.profile,
  allocProfile: args['alloc-profile'],
  gatewayNodeFlags: (args['gateway-flags'] ?? '').split(/\s+/).filter(Boolean),
};

/** Other processes using more than this many cores during a run make its numbers suspect. */
const NOISE_CORES = 0.2;

/** The issue's targets. */
const TARGETS = {
  addedP99Ms: 2,
  throughputShareOfProxy: 0.6,
  memoryGrowthSecondHalf: 0.1,
};

// ---------------------------------------------------------------------------------------------
// Targets and requests

type TargetName = 'direct' | 'proxy' | 'gateway';
type Mode = 'non-streaming' | 'streaming';

const TARGET_NAMES: TargetName[] = ['direct', 'proxy', 'gateway'];
const MODES: Mode[] = ['non-streaming', 'streaming'];
const LABEL: Record<TargetName, string> = { direct: 'direct', proxy: 'bare proxy', gateway: 'gateway' };

const PROMPT = `Say hello. [sim:words=${SETTINGS.answerWords}]`;

function chatRequest(target: TargetName, stream: boolean) {
  const gateway = target === 'gateway';
  return {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: {
      authorization: `Bearer ${gateway ? GATEWAY_KEY : UPSTREAM_API_KEY}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      model: gateway ? GATEWAY_MODEL : UPSTREAM_MODEL,
      messages: [{ role: 'user', content: PROMPT }],
      ...(stream ? { stream: true } : {}),
    }),
  };
}

const LAST_WORD = `word${SETTINGS.answerWords}`;
const ONE_TOO_MANY = `word${SETTINGS.answerWords + 1}`;

/** A complete, successful answer of exactly the requested length, in either shape. */
function verifyBody(body: string): boolean {
  if (body.startsWith('data:')) {
    return (
      body.trimEnd().endsWith('data: [DONE]') &&
      !body.includes('event: error') &&
      body.includes(LAST_WORD) &&
      !body.includes(ONE_TOO_MANY)
    );
  }
  return (
    /"finish_reason"\s*:\s*"stop"/.test(body) && body.includes(LAST_WORD) && !body.includes(ONE_TOO_MANY)
  );
}

// ---------------------------------------------------------------------------------------------
// Recorded results

interface RunRecord {
  phase: 'warm-up' | 'saturation' | 'fixed-rate' | 'memory';
  target: TargetName;
  mode: Mode | 'mixed';
  connections: number;
  durationSec: number;
  /** Fixed-rate runs: the requested rate. */
  rate?: number;
  load: LoadResult;
  /** CPU each server used during the run, microseconds per completed request. */
  cpuUsPerRequest: Partial<Record<'upstream' | 'proxy' | 'gateway', number>>;
  /** CPU each server used during the run, in cores (1 = one core busy all the time). */
  cpuCores: Partial<Record<'upstream' | 'proxy' | 'gateway', number>>;
  /**
   * Cores used by processes other than the benchmark's own (machine busy time minus the loader
   * and the three servers), averaged over the run: above ~0.2 the run was disturbed.
   */
  otherCores: number | undefined;
}

interface MemorySample {
  tSec: number;
  rssBytes: number;
}

const records: RunRecord[] = [];
const services: Partial<Record<'upstream' | 'proxy' | 'gateway', Service>> = {};
let memorySamples: MemorySample[] = [];
let failure: string | undefined;

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

class BenchError extends Error {}

function urlOf(target: TargetName): string {
  const service = target === 'direct' ? services.upstream : services[target];
  if (!service) throw new BenchError(`${target} is not running`);
  return service.url;
}

function cpuSnapshot(): Partial<Record<'upstream' | 'proxy' | 'gateway', number>> {
  const out: Partial<Record<'upstream' | 'proxy' | 'gateway', number>> = {};
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const pid = services[name]?.pid;
    const ms = pid === undefined ? undefined : readCpuMs(pid);
    if (ms !== undefined) out[name] = ms;
  }
  return out;
}

function describeProblems(load: LoadResult): string | undefined {
  const problems: string[] = [];
  if (load.non2xx) problems.push(`${load.non2xx} non-2xx (${JSON.stringify(load.statusCodes)})`);
  if (load.errors) problems.push(`${load.errors} errors (${load.timeouts} timeouts)`);
  if (load.mismatches) problems.push(`${load.mismatches} wrong bodies`);
  if (load.ok === 0) problems.push('no successful response at all');
  return problems.length ? problems.join(', ') : undefined;
}

async function measure(
  phase: RunRecord['phase'],
  target: TargetName,
  mode: Mode | 'mixed',
  durationSec: number,
  rate?: number,
): Promise<RunRecord> {
  const requests =
    mode === 'mixed'
      ? [chatRequest(target, false), chatRequest(target, true)]
      : [chatRequest(target, mode === 'streaming')];
  const before = cpuSnapshot();
  const systemBefore = readSystemBusyMs();
  const load = await runLoad({
    url: urlOf(target),
    requests,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    verifyBody,
  });
  const after = cpuSnapshot();
  const systemAfter = readSystemBusyMs();
  const cpuUsPerRequest: RunRecord['cpuUsPerRequest'] = {};
  const cpuCores: RunRecord['cpuCores'] = {};
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const a = after[name];
    const b = before[name];
    if (a === undefined || b === undefined) continue;
    cpuCores[name] = (a - b) / (load.elapsedSec * 1000);
    if (load.ok > 0) cpuUsPerRequest[name] = ((a - b) * 1000) / load.ok;
  }
  let otherCores: number | undefined;
  if (systemBefore !== undefined && systemAfter !== undefined) {
    let ours = load.loaderCpuMs;
    for (const name of ['upstream', 'proxy', 'gateway'] as const) {
      const a = after[name];
      const b = before[name];
      if (a !== undefined && b !== undefined) ours += a - b;
    }
    otherCores = Math.max(0, (systemAfter - systemBefore - ours) / (load.elapsedSec * 1000));
  }
  const record: RunRecord = {
    phase,
    target,
    mode,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    load,
    cpuUsPerRequest,
    cpuCores,
    otherCores,
  };
  records.push(record);
  const l = load.latencyMs;
  log(
    `  ${phase.padEnd(10)} ${LABEL[target].padEnd(10)} ${mode.padEnd(13)} ${int(load.rps).padStart(6)} req/s` +
      `  p50 ${fixed(l.p50, 2)} ms  p99 ${fixed(l.p99, 2)} ms` +
      (otherCores !== undefined && otherCores > NOISE_CORES
        ? `  (other processes: ${fixed(otherCores, 2)} cores)`
        : ''),
  );
  const problems = describeProblems(load);
  if (problems) {
    throw new BenchError(
      `${phase} run against ${LABEL[target]} (${mode}) had ${problems}.\n` +
        `First samples:\n${load.samples.map((s) => `    ${s}`).join('\n')}`,
    );
  }
  return record;
}

function find(phase: RunRecord['phase'], target: TargetName, mode: Mode): RunRecord | undefined {
  return records.find((r) => r.phase === phase && r.target === target && r.mode === mode);
}

// ---------------------------------------------------------------------------------------------
// Processes

function gatewayConfig(upstreamUrl: string): string {
  return `# Generated by bench/run.ts
server: { host: 127.0.0.1, port: 0 }
storage: memory
providers:
  - { id: upstream, type: openai, region: us, endpoint: ${upstreamUrl}/v1, apiKey: ${UPSTREAM_API_KEY} }
models:
  - name: ${GATEWAY_MODEL}
    deployments: [{ provider: upstream, model: ${UPSTREAM_MODEL} }]
keys:
  - { name: bench, key: ${GATEWAY_KEY} }
`;
}

/** Newest modification time under a folder (ms), for the "dist is older than src" warning. */
function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(suffix)) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

const profileDir = join(ROOT, '.bench', 'profile');
const logDir = join(ROOT, '.bench', 'logs');
const allocProfileFile = join(profileDir, 'gateway-allocations.heapprofile');

async function startServices(configDir: string): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  setUnexpectedExitHandler((service) => {
    failure ??= `${service.name} (pid ${service.pid}) exited unexpectedly (${service.exit}).\n${service.output()}`;
    stopCurrentLoad();
  });
  services.upstream = await startService('upstream', ['bench/upstream.ts', '--latency-ms', '0'], {
    cwd: ROOT,
    logFile: join(logDir, 'upstream.log'),
  });
  services.proxy = await startService('proxy', ['bench/bare-proxy.ts', '--upstream', services.upstream.url], {
    cwd: ROOT,
    logFile: join(logDir, 'proxy.log'),
  });
  const configFile = join(configDir, 'switchyard.yaml');
  writeFileSync(configFile, gatewayConfig(services.upstream.url));
  const nodeFlags = [
    ...SETTINGS.gatewayNodeFlags,
    ...(SETTINGS.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(SETTINGS.allocProfile
      ? [`--import=${pathToFileURL(join(ROOT, 'bench', 'lib', 'alloc-sampler.ts')).href}`]
      : []),
  ];
  if (SETTINGS.profile || SETTINGS.allocProfile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  services.gateway = await startService(
    'gateway',
    [...nodeFlags, 'bin/switchyard.js', 'serve', '--config', configFile, '--port', '0'],
    {
      cwd: ROOT,
      logFile: join(logDir, 'gateway.log'),
      env: { ...process.env, SWITCHYARD_BENCH_ALLOC_PROFILE: SETTINGS.allocProfile ? allocProfileFile : '' },
    },
  );
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const s = services[name]!;
    log(`  ${name.padEnd(8)} pid ${String(s.pid).padEnd(7)} ${s.url}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

function checkFailure(): void {
  if (failure) throw new BenchError(failure);
}

/** Node servers need several seconds of load before JIT and heap sizes settle: warm all first. */
async function warmupPhase(): Promise<void> {
  log(`\nWarm-up: ${SETTINGS.initialWarmupSec} s at saturation per target and mode`);
  for (const target of TARGET_NAMES) {
    for (const mode of MODES) {
      await measure('warm-up', target, mode, SETTINGS.initialWarmupSec);
      checkFailure();
    }
  }
}

async function saturationPhase(): Promise<void> {
  log(`\nSaturation: ${SETTINGS.connections} connections, ${SETTINGS.saturationSec} s per run`);
  for (const mode of MODES) {
    for (const target of TARGET_NAMES) {
      await measure('warm-up', target, mode, SETTINGS.warmupSec);
      checkFailure();
      await measure('saturation', target, mode, SETTINGS.saturationSec);
      checkFailure();
    }
  }
}

async function fixedRatePhase(): Promise<void> {
  log(`\nFixed rate: ${int(SETTINGS.fixedRate)} req/s paced, ${SETTINGS.fixedRateSec} s per run`);
  for (const mode of MODES) {
    for (const target of TARGET_NAMES) {
      await measure('warm-up', target, mode, SETTINGS.fixedRateWarmupSec, SETTINGS.fixedRate);
      checkFailure();
      await measure('fixed-rate', target, mode, SETTINGS.fixedRateSec, SETTINGS.fixedRate);
      checkFailure();
    }
  }
}

async function memoryPhase(): Promise<void> {
  const pid = services.gateway!.pid;
  log(
    `\nMemory: gateway at ${int(SETTINGS.fixedRate)} req/s for ${SETTINGS.memorySec} s (half streaming), ` +
      `RSS every ${SETTINGS.memorySampleSec} s`,
  );
  memorySamples = [];
  const started = Date.now();
  const sample = () => {
    const rss = readRssBytes(pid);
    if (rss !== undefined) memorySamples.push({ tSec: (Date.now() - started) / 1000, rssBytes: rss });
  };
  sample();
  const timer = setInterval(sample, SETTINGS.memorySampleSec * 1000);
  try {
    await measure('memory', 'gateway', 'mixed', SETTINGS.memorySec, SETTINGS.fixedRate);
  } finally {
    clearInterval(timer);
  }
  const last = memorySamples.at(-1);
  if (!last || last.tSec < SETTINGS.memorySec - SETTINGS.memorySampleSec / 2) sample();
  checkFailure();
}

// ---------------------------------------------------------------------------------------------
// Report

interface TargetCheck {
  name: string;
  measured: string;
  pass: boolean;
}

interface MemoryReport {
  samples: MemorySample[];
  startBytes: number;
  endBytes: number;
  maxBytes: number;
  midBytes: number;
  /** (end − mid) / mid: growth over the second half of the run. */
  secondHalfGrowth: number;
}

function memoryReport(): MemoryReport | undefined {
  if (memorySamples.length < 2) return undefined;
  const first = memorySamples[0]!;
  const last = memorySamples.at(-1)!;
  const midTime = (first.tSec + last.tSec) / 2;
  let mid = first;
  for (const s of memorySamples) if (Math.abs(s.tSec - midTime) < Math.abs(mid.tSec - midTime)) mid = s;
  return {
    samples: memorySamples,
    startBytes: first.rssBytes,
    endBytes: last.rssBytes,
    maxBytes: Math.max(...memorySamples.map((s) => s.rssBytes)),
    midBytes: mid.rssBytes,
    secondHalfGrowth: (last.rssBytes - mid.rssBytes) / mid.rssBytes,
  };
}

function targetChecks(memory: MemoryReport | undefined): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const directFixed = find('fixed-rate', 'direct', 'non-streaming');
  const gatewayFixed = find('fixed-rate', 'gateway', 'non-streaming');
  if (directFixed && gatewayFixed) {
    const added = gatewayFixed.load.latencyMs.p99 - directFixed.load.latencyMs.p99;
    checks.push({
      name: `gateway adds < ${TARGETS.addedP99Ms} ms at p99 (${int(SETTINGS.fixedRate)} req/s, non-streaming)`,
      measured: `${signed(added, 2)} ms`,
      pass: added < TARGETS.addedP99Ms,
    });
  }
  for (const mode of MODES) {
    const proxy = find('saturation', 'proxy', mode);
    const gateway = find('saturation', 'gateway', mode);
    if (!proxy || !gateway) continue;
    const share = gateway.load.rps / proxy.load.rps;
    checks.push({
      name: `gateway throughput >= ${percent(TARGETS.throughputShareOfProxy)} of bare proxy (${mode})`,
      measured: percent(share, 1),
      pass: share >= TARGETS.throughputShareOfProxy,
    });
  }
  if (memory) {
    checks.push({
      name: `gateway memory flat over ${SETTINGS.memorySec} s (second-half growth < ${percent(TARGETS.memoryGrowthSecondHalf)})`,
      measured: `${signed(memory.secondHalfGrowth * 100, 1)}%`,
      pass: memory.secondHalfGrowth < TARGETS.memoryGrowthSecondHalf,
    });
  }
  return checks;
}

function gitDescription(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${rev} + uncommitted changes in src/ or bin/` : rev;
  } catch {
    return 'unknown';
  }
}

function printReport(memory: MemoryReport | undefined, checks: TargetCheck[]): void {
  const out: string[] = [];
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

  const cpuOf = (r: RunRecord) =>
    r.target === 'direct' ? r.cpuUsPerRequest.upstream : r.cpuUsPerRequest[r.target as 'proxy' | 'gateway'];

  // 1. Saturation.
  if (records.some((r) => r.phase === 'saturation')) {
    out.push('');
    out.push(
      `1. Saturation throughput (${SETTINGS.saturationSec} s per run, each after a ${SETTINGS.warmupSec} s warm-up; ` +
        'latency is at saturation, so it is mostly queueing)',
    );
    out.push(
      `   Every target and mode first had ${SETTINGS.initialWarmupSec} s of warm-up at saturation (JIT, heap sizing).`,
    );
    const satRows: (string | number)[][] = [];
    for (const mode of MODES) {
      for (const target of TARGET_NAMES) {
        const r = find('saturation', target, mode);
        if (!r) continue;
        satRows.push([
          `${mode} ${LABEL[target]}`,
          int(r.load.rps),
          fixed(r.load.latencyMs.p50, 2),
          fixed(r.load.latencyMs.p99, 2),
          fixed(cpuOf(r) ?? Number.NaN, 0),
          fixed(r.cpuUsPerRequest.upstream ?? Number.NaN, 0),
          fixed(
            r.cpuCores[r.target === 'direct' ? 'upstream' : (r.target as 'proxy' | 'gateway')] ?? Number.NaN,
            2,
          ),
          fixed(r.load.loaderCpuMs / (r.load.elapsedSec * 1000), 2),
          fixed(r.otherCores ?? Number.NaN, 2),
          int(r.load.ok),
        ]);
      }
    }
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
        '   "other cores": CPU used meanwhile by processes outside the benchmark)',
    );
    const ratioRows: (string | number)[][] = [];
    for (const mode of MODES) {
      const d = find('saturation', 'direct', mode);
      const p = find('saturation', 'proxy', mode);
      const g = find('saturation', 'gateway', mode);
      if (!d || !p || !g) continue;
      ratioRows.push([
        mode,
        percent(g.load.rps / p.load.rps, 1),
        percent(g.load.rps / d.load.rps, 1),
        percent(p.load.rps / d.load.rps, 1),
        fixed((cpuOf(g) ?? Number.NaN) / (cpuOf(p) ?? Number.NaN), 2),
      ]);
    }
    if (ratioRows.length) {
      out.push('');
      out.push(
        table(
          ['ratios', 'gateway/proxy', 'gateway/direct', 'proxy/direct', 'gateway CPU per req / proxy'],
          ratioRows,
        ),
      );
    }
  }

  // 2. Fixed rate.
  if (records.some((r) => r.phase === 'fixed-rate')) {
    out.push('');
    out.push(
      `2. Latency at a fixed ${int(SETTINGS.fixedRate)} req/s (paced evenly over ${SETTINGS.connections} connections, ` +
        `${SETTINGS.fixedRateSec} s per run, ms)`,
    );
    out.push(
      '   Whole-response time, request written → last byte; for streaming that includes the whole stream.',
    );
    const fixedRows: (string | number)[][] = [];
    for (const mode of MODES) {
      for (const target of TARGET_NAMES) {
        const r = find('fixed-rate', target, mode);
        if (!r) continue;
        const l = r.load.latencyMs;
        fixedRows.push([
          `${mode} ${LABEL[target]}`,
          int(r.load.rps),
          fixed(l.p50, 2),
          fixed(l.p90, 2),
          fixed(l.p99, 2),
          fixed(l.p999, 2),
          fixed(l.max, 2),
          fixed(cpuOf(r) ?? Number.NaN, 0),
          fixed(r.otherCores ?? Number.NaN, 2),
          r.load.late,
        ]);
      }
    }
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
          'late sends',
        ],
        fixedRows,
      ),
    );
    const addedRows: (string | number)[][] = [];
    for (const mode of MODES) {
      const d = find('fixed-rate', 'direct', mode);
      if (!d) continue;
      for (const target of ['proxy', 'gateway'] as const) {
        const r = find('fixed-rate', target, mode);
        if (!r) continue;
        addedRows.push([
          `${mode} ${LABEL[target]}`,
          signed(r.load.latencyMs.p50 - d.load.latencyMs.p50, 2),
          signed(r.load.latencyMs.p99 - d.load.latencyMs.p99, 2),
        ]);
      }
    }
    if (addedRows.length) {
      out.push('');
      out.push(table(['added vs direct', 'p50 ms', 'p99 ms'], addedRows));
    }
  }

  // 3. Memory.
  if (memory) {
    out.push('');
    const m = records.find((r) => r.phase === 'memory');
    out.push(
      `3. Gateway memory (RSS) over ${SETTINGS.memorySec} s at ${int(SETTINGS.fixedRate)} req/s, ` +
        `alternating streaming and non-streaming` +
        (m ? ` (${int(m.load.ok)} responses, p99 ${fixed(m.load.latencyMs.p99, 2)} ms)` : ''),
    );
    out.push(
      table(
        ['t (s)', ...memory.samples.map((s) => fixed(s.tSec, 0))],
        [['RSS MiB', ...memory.samples.map((s) => mib(s.rssBytes))]],
      ),
    );
    out.push(
      `  start ${mib(memory.startBytes)} MiB, end ${mib(memory.endBytes)} MiB, max ${mib(memory.maxBytes)} MiB; ` +
        `second half ${mib(memory.midBytes)} → ${mib(memory.endBytes)} MiB (${signed(memory.secondHalfGrowth * 100, 1)}%)`,
    );
  }

  // 4. Correctness.
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
          .map((r) => `${r.phase} ${r.mode} ${LABEL[r.target]} (${fixed(r.otherCores ?? 0, 2)})`)
          .join(', ') +
        '. Those numbers are disturbed; rerun on a quiet machine.',
    );
  }

  // 5. Targets.
  if (checks.length) {
    out.push('');
    out.push('5. Targets');
    out.push(
      table(
        ['target', 'measured', 'result'],
        checks.map((c) => [c.name, c.measured, c.pass ? 'PASS' : 'FAIL']),
      ),
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

function printProfile(): void {
  if (!existsSync(profileDir)) return;
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    log(`\nno CPU profile was written to ${profileDir} (the gateway did not exit cleanly?)`);
    return;
  }
  const file = join(profileDir, files.sort().at(-1)!);
  const summary = summarizeProfile(file, ROOT, 20);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, int(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `Gateway CPU profile (${file}): ${int(summary.busyMs)} ms busy of ${int(summary.totalMs)} ms`,
    '',
    'Self time by function',
    table(['function', 'ms', 'share of busy'], rows(summary.selfByFunction)),
    '',
    'Self time by file',
    table(['file', 'ms', 'share of busy'], rows(summary.selfByFile)),
    '',
    "Inclusive time of the gateway's own functions (dist/)",
    table(['function', 'ms', 'share of busy'], rows(summary.inclusiveProject)),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

function printAllocations(): void {
  if (!existsSync(allocProfileFile)) {
    log(`\nno allocation profile was written to ${allocProfileFile}`);
    return;
  }
  const summary = summarizeAllocations(allocProfileFile, ROOT, 20);
  const served = records
    .filter((r) => r.target === 'gateway')
    .reduce((sum, r) => sum + r.load.ok + r.load.non2xx, 0);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, mib(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `Gateway allocations (${allocProfileFile}): ${mib(summary.totalBytes)} MiB sampled over ` +
      `${int(served)} requests ≈ ${fixed(summary.totalBytes / Math.max(1, served) / 1024, 1)} KiB per request ` +
      '(sampling estimate; includes start-up)',
    '',
    'Bytes allocated by function (self)',
    table(['function', 'MiB', 'share'], rows(summary.selfByFunction)),
    '',
    "Bytes allocated under the gateway's own functions (callees included)",
    table(['function', 'MiB', 'share'], rows(summary.inclusiveProject)),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

function writeJson(memory: MemoryReport | undefined, checks: TargetCheck[]): void {
  const data = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim(),
    git: gitDescription(),
    settings: SETTINGS,
    targets: TARGETS,
    services: Object.fromEntries(
      Object.entries(services).map(([name, s]) => [name, { pid: s.pid, url: s.url }]),
    ),
    failure: failure ?? null,
    runs: records,
    memory: memory ?? null,
    checks,
    passed: failure === undefined && checks.every((c) => c.pass),
  };
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const last = join(ROOT, '.bench', 'last.json');
  mkdirSync(dirname(last), { recursive: true });
  writeFileSync(last, text);
  const files = [last];
  if (args.json) {
    const file = resolve(args.json);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    files.push(file);
  }
  log(`\nresults written to ${files.join(' and ')}`);
}

// ---------------------------------------------------------------------------------------------
// Main

let interrupted = false;
let configDir: string | undefined;

async function shutdown(): Promise<void> {
  await stopAll(5_000);
  if (configDir) rmSync(configDir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      killAllSync();
      process.exit(130);
    }
    interrupted = true;
    log(`\n${signal}: stopping the load and the servers…`);
    failure ??= `interrupted by ${signal}`;
    stopCurrentLoad();
    void shutdown().then(() => process.exit(130));
  });
}
process.on('exit', killAllSync);

async function main(): Promise<number> {
  const distEntry = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(distEntry)) {
    log('bench: the gateway is not built (dist/cli/main.js is missing): run `npm run build` first.');
    return 1;
  }
  if (newestMtime(join(ROOT, 'src'), '.ts') > newestMtime(join(ROOT, 'dist'), '.js')) {
    log('bench: warning: src/ has changes newer than dist/: run `npm run build` (or `npm run bench`).');
  }
  const estimate =
    6 * SETTINGS.initialWarmupSec +
    6 * SETTINGS.warmupSec +
    6 * SETTINGS.saturationSec +
    6 * (SETTINGS.fixedRateWarmupSec + SETTINGS.fixedRateSec) +
    SETTINGS.memorySec;
  log(`Switchyard benchmark${QUICK ? ' (quick)' : ''}: about ${Math.ceil(estimate / 10) * 10} s of load`);

  configDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  let memory: MemoryReport | undefined;
  let checks: TargetCheck[] = [];
  try {
    log('Starting servers');
    await startServices(configDir);
    await warmupPhase();
    await saturationPhase();
    await fixedRatePhase();
    await memoryPhase();
  } catch (err) {
    if (!interrupted)
      failure ??= err instanceof BenchError ? err.message : String(err instanceof Error ? err.stack : err);
  } finally {
    memory = memoryReport();
    checks = failure ? [] : targetChecks(memory);
    await shutdown();
  }
  if (interrupted) return 130;

  printReport(memory, checks);
  if (SETTINGS.profile) printProfile();
  if (SETTINGS.allocProfile) printAllocations();
  writeJson(memory, checks);
  if (failure) {
    process.stdout.write(`\nBENCHMARK FAILED: ${failure}\n`);
    return 1;
  }
  const failed = checks.filter((c) => !c.pass);
  if (failed.length) {
    process.stdout.write(
      `\n${failed.length} target(s) FAILED${args.strict ? '' : ' (exit code 0 without --strict)'}\n`,
    );
    return args.strict ? 1 : 0;
  }
  process.stdout.write('\nAll targets PASS\n');
  return 0;
}

process.exitCode = await main();

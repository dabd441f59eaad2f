/**
 * One measured load run against one target: the load itself (load.ts), the CPU every server used
 * meanwhile, the machine's other load and steal, and for gateways that ask for it /metrics read
 * around the run (request log) or during it (scrapes, as a Prometheus server would).
 */

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NOISE_CORES, SETTINGS } from './args.ts';
import { GC_STATS_SETTLE_MS } from './constants.ts';
import type { GcTotals } from './gc-probe.ts';
import { type LoadResult, runLoad } from './load.ts';
import { type GatewayCounters, scrape } from './metrics-scrape.ts';
import { readCpuMs, readStealMs, readSystemBusyMs } from './processes.ts';
import { gcStatsFile } from './repo.ts';
import { chatRequest, isGateway, label, type Mode, type TargetName, verifyBody } from './requests.ts';
import { SCENARIOS } from './scenarios.ts';
import {
  BenchError,
  type CpuName,
  type GcDelta,
  log,
  type RequestLogDelta,
  type RunRecord,
  type ServerName,
  state,
} from './state.ts';
import { fixed, int } from './table.ts';

function serverOf(target: TargetName): ServerName {
  return target === 'direct' ? 'upstream' : target;
}

function urlOf(target: TargetName): string {
  const service = state.services[serverOf(target)];
  if (!service) throw new BenchError(`${label(target)} is not running`);
  return service.url;
}

function cpuSnapshot(): Partial<Record<CpuName, number>> {
  const out: Partial<Record<CpuName, number>> = {};
  const pids: [CpuName, number][] = Object.entries(state.services).map(([name, s]) => [
    name as CpuName,
    s.pid,
  ]);
  if (state.redisPid !== undefined) pids.push(['redis', state.redisPid]);
  for (const [name, pid] of pids) {
    const ms = readCpuMs(pid);
    if (ms !== undefined) out[name] = ms;
  }
  return out;
}

function readGc(target: TargetName): GcTotals | undefined {
  if (!isGateway(target)) return undefined;
  try {
    return JSON.parse(readFileSync(gcStatsFile(target), 'utf8')) as GcTotals;
  } catch {
    return undefined;
  }
}

function gcDelta(
  before: GcTotals | undefined,
  after: GcTotals | undefined,
  requests: number,
): GcDelta | undefined {
  if (!before || !after) return undefined;
  const scavenges = after.scavenges - before.scavenges;
  const scavengeMs = after.scavengeMs - before.scavengeMs;
  const majorMs = after.majorMs - before.majorMs;
  return {
    scavenges,
    scavengeMeanMs: scavenges > 0 ? scavengeMs / scavenges : 0,
    majors: after.majors - before.majors,
    gcUsPerRequest: requests > 0 ? ((scavengeMs + majorMs) * 1000) / requests : Number.NaN,
  };
}

function describeProblems(load: LoadResult): string | undefined {
  const problems: string[] = [];
  if (load.non2xx) problems.push(`${load.non2xx} non-2xx (${JSON.stringify(load.statusCodes)})`);
  if (load.errors) problems.push(`${load.errors} errors (${load.timeouts} timeouts)`);
  if (load.mismatches) problems.push(`${load.mismatches} wrong bodies`);
  if (load.ok === 0) problems.push('no successful response at all');
  return problems.length ? problems.join(', ') : undefined;
}

/** Scrapes /metrics every `everySec` seconds, one scrape at a time, until stopped. */
function startScraping(url: string, everySec: number) {
  let count = 0;
  let maxMs = 0;
  let failure: string | undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    const started = performance.now();
    scrape(url).then(
      () => {
        count++;
        maxMs = Math.max(maxMs, performance.now() - started);
        busy = false;
      },
      (err: unknown) => {
        failure ??= err instanceof Error ? err.message : String(err);
        busy = false;
      },
    );
  }, everySec * 1000);
  return {
    /** Stops; throws if a scrape failed. */
    finish: () => {
      clearInterval(timer);
      if (failure) throw new BenchError(`a /metrics scrape during the run failed: ${failure}`);
      return { count, maxMs };
    },
    /** Stops after a failed run (whose own error is the one to report). */
    cancel: () => clearInterval(timer),
  };
}

function requestLogDelta(
  before: GatewayCounters,
  after: GatewayCounters,
  elapsedSec: number,
): RequestLogDelta {
  const written = after.requestLogWritten - before.requestLogWritten;
  const dropped = after.requestLogDropped - before.requestLogDropped;
  return {
    written,
    dropped,
    enqueued: written + dropped + (after.requestLogQueued - before.requestLogQueued),
    queuedAtEnd: after.requestLogQueued,
    writtenPerSec: written / elapsedSec,
  };
}

export async function measure(
  phase: RunRecord['phase'],
  target: TargetName,
  mode: Mode | 'mixed',
  durationSec: number,
  rate?: number,
  round?: number,
): Promise<RunRecord> {
  const scenario = isGateway(target) ? SCENARIOS[target] : undefined;
  const url = urlOf(target);
  const requests =
    mode === 'mixed'
      ? [chatRequest(target, false), chatRequest(target, true)]
      : [chatRequest(target, mode === 'streaming')];
  const countersBefore = scenario?.requestLog ? await scrape(url) : undefined;
  const scraping = scenario?.scrapeEverySec ? startScraping(url, scenario.scrapeEverySec) : undefined;
  const gcBefore = readGc(target);
  const before = cpuSnapshot();
  const systemBefore = readSystemBusyMs();
  const stealBefore = readStealMs();
  const load = await runLoad({
    url,
    requests,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    verifyBody,
  }).catch((err: unknown) => {
    scraping?.cancel();
    throw err;
  });
  const after = cpuSnapshot();
  const systemAfter = readSystemBusyMs();
  const stealAfter = readStealMs();
  const scrapes = scraping?.finish();
  // The GC probe writes its totals at most every 250 ms: wait for the run's last collections.
  if (gcBefore) await sleep(GC_STATS_SETTLE_MS);
  const gc = gcDelta(gcBefore, readGc(target), load.ok);
  const countersAfter = countersBefore ? await scrape(url) : undefined;
  const cpuUsPerRequest: RunRecord['cpuUsPerRequest'] = {};
  const cpuCores: RunRecord['cpuCores'] = {};
  let ours = load.loaderCpuMs;
  for (const name of Object.keys(after) as CpuName[]) {
    const a = after[name];
    const b = before[name];
    if (a === undefined || b === undefined) continue;
    cpuCores[name] = (a - b) / (load.elapsedSec * 1000);
    if (load.ok > 0) cpuUsPerRequest[name] = ((a - b) * 1000) / load.ok;
    ours += a - b;
  }
  const otherCores =
    systemBefore === undefined || systemAfter === undefined
      ? undefined
      : Math.max(0, (systemAfter - systemBefore - ours) / (load.elapsedSec * 1000));
  const record: RunRecord = {
    phase,
    target,
    mode,
    connections: SETTINGS.connections,
    durationSec,
    ...(rate === undefined ? {} : { rate }),
    ...(round === undefined ? {} : { round }),
    load,
    cpuUsPerRequest,
    cpuCores,
    otherCores,
    stealCores:
      stealBefore === undefined || stealAfter === undefined
        ? undefined
        : (stealAfter - stealBefore) / (load.elapsedSec * 1000),
    ...(countersBefore && countersAfter
      ? { requestLog: requestLogDelta(countersBefore, countersAfter, load.elapsedSec) }
      : {}),
    ...(scrapes ? { scrapes } : {}),
    ...(gc ? { gc } : {}),
  };
  state.records.push(record);
  const l = load.latencyMs;
  log(
    `  ${`${phase}${round === undefined ? '' : ` r${round}`}`.padEnd(13)} ${label(target).padEnd(15)} ${mode.padEnd(13)} ${int(load.rps).padStart(6)} req/s` +
      `  p50 ${fixed(l.p50, 2)} ms  p99 ${fixed(l.p99, 2)} ms` +
      (gc ? `  scavenge ${fixed(gc.scavengeMeanMs, 1)} ms` : '') +
      (record.requestLog ? `  log ${int(record.requestLog.writtenPerSec)} rec/s` : '') +
      (otherCores !== undefined && otherCores > NOISE_CORES
        ? `  (other processes: ${fixed(otherCores, 2)} cores)`
        : ''),
  );
  const problems = describeProblems(load);
  if (problems) {
    throw new BenchError(
      `${phase} run against ${label(target)} (${mode}) had ${problems}.\n` +
        `First samples:\n${load.samples.map((s) => `    ${s}`).join('\n')}`,
    );
  }
  return record;
}

/**
 * Starts the servers under test, each in its own process: the upstream, the bare proxy, and one
 * gateway per selected scenario (built CLI, generated config), all in front of the same upstream.
 */

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SETTINGS } from './args.ts';
import { gatewayConfig } from './gateway-config.ts';
import { stopCurrentLoad } from './load.ts';
import { setUnexpectedExitHandler, startService } from './processes.ts';
import { localRedisPid } from './redis.ts';
import {
  allocProfileFile,
  gcStatsFile,
  heapProbeFile,
  logDir,
  profileDir,
  profileRoot,
  ROOT,
} from './repo.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { log, type ServerName, state } from './state.ts';

function gatewayNodeFlags(scenario: ScenarioName): string[] {
  return [
    // Idle until the memory phase signals it (a full GC, then the live heap): see heap-probe.ts.
    `--import=${pathToFileURL(join(ROOT, 'bench', 'lib', 'heap-probe.ts')).href}`,
    // Running GC totals (scavenges, mark-compacts, pauses) for the per-run GC figures: gc-probe.ts.
    `--import=${pathToFileURL(join(ROOT, 'bench', 'lib', 'gc-probe.ts')).href}`,
    ...SETTINGS.gatewayNodeFlags,
    ...(SETTINGS.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(scenario)}`] : []),
    ...(SETTINGS.allocProfile
      ? [`--import=${pathToFileURL(join(ROOT, 'bench', 'lib', 'alloc-sampler.ts')).href}`]
      : []),
  ];
}

/**
 * Starts the servers (recorded in `state.services`) and watches them: one exiting on its own
 * sets `state.failure` and stops the current load run. `runId` is unique to this run (the Redis
 * scenario's key name carries it); `configDir` holds the configs and the SQLite file.
 */
export async function startServices(configDir: string, runId: string): Promise<void> {
  const services = state.services;
  mkdirSync(logDir, { recursive: true });
  setUnexpectedExitHandler((service) => {
    state.failure ??= `${service.name} (pid ${service.pid}) exited unexpectedly (${service.exit}).\n${service.output()}`;
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
  if (SETTINGS.profile || SETTINGS.allocProfile) {
    rmSync(profileRoot, { recursive: true, force: true });
    mkdirSync(profileRoot, { recursive: true });
  }
  const upstreamUrl = services.upstream.url;
  for (const scenario of SETTINGS.scenarios) {
    const configFile = join(configDir, `${scenario}.yaml`);
    writeFileSync(
      configFile,
      gatewayConfig(scenario, { upstreamUrl, dataDir: configDir, runId, redisUrl: SETTINGS.redisUrl }),
    );
    rmSync(heapProbeFile(scenario), { force: true });
    rmSync(gcStatsFile(scenario), { force: true });
    if (SETTINGS.profile) mkdirSync(profileDir(scenario), { recursive: true });
    services[scenario] = await startService(
      scenario,
      [...gatewayNodeFlags(scenario), 'bin/switchyard.js', 'serve', '--config', configFile, '--port', '0'],
      {
        cwd: ROOT,
        logFile: join(logDir, `gateway-${scenario}.log`),
        env: {
          ...process.env,
          SWITCHYARD_BENCH_ALLOC_PROFILE: SETTINGS.allocProfile ? allocProfileFile(scenario) : '',
          SWITCHYARD_BENCH_HEAP_PROBE: heapProbeFile(scenario),
          SWITCHYARD_BENCH_GC_STATS: gcStatsFile(scenario),
        },
      },
    );
  }
  for (const name of Object.keys(services) as ServerName[]) {
    const s = services[name]!;
    log(`  ${name.padEnd(13)} pid ${String(s.pid).padEnd(7)} ${s.url}`);
  }
  if (SETTINGS.scenarios.some((s) => SCENARIOS[s].redis)) {
    state.redisPid = await localRedisPid(SETTINGS.redisUrl);
    log(
      `  ${'redis'.padEnd(13)} ${state.redisPid === undefined ? 'not on this machine: its CPU is not counted' : `pid ${state.redisPid}`}`,
    );
  }
}

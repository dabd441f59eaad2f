/** Starts the three servers under test, each in its own process: upstream, bare proxy, gateway. */

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SETTINGS } from './args.ts';
import { gatewayConfig } from './gateway-config.ts';
import { stopCurrentLoad } from './load.ts';
import { setUnexpectedExitHandler, startService } from './processes.ts';
import { allocProfileFile, heapProbeFile, logDir, profileDir, ROOT } from './repo.ts';
import { log, state } from './state.ts';

/**
 * Starts the servers (recorded in `state.services`) and watches them: one exiting on its own
 * sets `state.failure` and stops the current load run.
 */
export async function startServices(configDir: string): Promise<void> {
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
  const configFile = join(configDir, 'switchyard.yaml');
  writeFileSync(configFile, gatewayConfig(services.upstream.url));
  rmSync(heapProbeFile, { force: true });
  const nodeFlags = [
    // Idle until the memory phase signals it (a full GC, then the live heap): see heap-probe.ts.
    `--import=${pathToFileURL(join(ROOT, 'bench', 'lib', 'heap-probe.ts')).href}`,
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
      env: {
        ...process.env,
        SWITCHYARD_BENCH_ALLOC_PROFILE: SETTINGS.allocProfile ? allocProfileFile : '',
        SWITCHYARD_BENCH_HEAP_PROBE: heapProbeFile,
      },
    },
  );
  for (const name of ['upstream', 'proxy', 'gateway'] as const) {
    const s = services[name]!;
    log(`  ${name.padEnd(8)} pid ${String(s.pid).padEnd(7)} ${s.url}`);
  }
}

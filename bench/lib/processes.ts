/**
 * Child processes of the benchmark: each server runs in its own process, is stopped by its pid,
 * and is watched so that a crash fails the run loudly instead of turning into "errors".
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { READY_PATTERN } from './constants.ts';

export interface Service {
  name: string;
  pid: number;
  url: string;
  /** Set once the process has exited: the code or the signal. */
  exit: string | undefined;
  /** The last few KB of stdout and stderr, for error messages. */
  output(): string;
}

interface Running {
  service: Service;
  child: ChildProcess;
  exited: Promise<void>;
  /** True once we asked it to stop: its exit is then expected. */
  stopping: boolean;
}

const running = new Map<number, Running>();
const OUTPUT_TAIL = 8 * 1024;

/** Called when a child exits without being asked to. */
let onUnexpectedExit: (service: Service) => void = () => {};

export function setUnexpectedExitHandler(handler: (service: Service) => void): void {
  onUnexpectedExit = handler;
}

/**
 * Starts `node ARGS...` with the current Node binary and resolves once it prints
 * `listening on URL`. Its output is always drained (a full pipe would stall it).
 */
export function startService(
  name: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number; logFile?: string },
): Promise<Service> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) return Promise.reject(new Error(`${name}: could not start ${args.join(' ')}`));

  let tail = '';
  const log = options.logFile ? createWriteStream(options.logFile) : undefined;
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    log?.write(chunk);
  };
  const service: Service = { name, pid, url: '', exit: undefined, output: () => tail };
  let markExited: () => void = () => {};
  const entry: Running = {
    service,
    child,
    exited: new Promise<void>((resolve) => {
      markExited = resolve;
    }),
    stopping: false,
  };
  running.set(pid, entry);

  return new Promise<Service>((resolve, reject) => {
    let stdoutLine = '';
    const timer = setTimeout(() => {
      reject(
        new Error(
          `${name} did not print "listening on URL" within ${options.readyTimeoutMs ?? 20_000} ms.\n${tail}`,
        ),
      );
    }, options.readyTimeoutMs ?? 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (service.url) return;
      stdoutLine += chunk.toString('utf8');
      const match = READY_PATTERN.exec(stdoutLine);
      if (match) {
        service.url = match[1]!;
        clearTimeout(timer);
        resolve(service);
      }
    });
    child.stderr?.on('data', keep);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      service.exit = signal ? `signal ${signal}` : `code ${code}`;
      running.delete(pid);
      log?.end();
      markExited();
      clearTimeout(timer);
      if (!service.url) reject(new Error(`${name} exited (${service.exit}) before it was ready.\n${tail}`));
      else if (!entry.stopping) onUnexpectedExit(service);
    });
  });
}

/** SIGTERM by pid, then SIGKILL if it has not exited after `graceMs`. */
export async function stopService(pid: number, graceMs = 5_000): Promise<void> {
  const entry = running.get(pid);
  if (!entry) return;
  entry.stopping = true;
  signal(pid, 'SIGTERM');
  const timer = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
  await entry.exited;
  clearTimeout(timer);
}

/** Stops every child this process started, in reverse start order. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  const pids = [...running.keys()].reverse();
  await Promise.all(pids.map((pid) => stopService(pid, graceMs)));
}

/** Scripts run to completion (runScript) and still running, by pid. */
const scripts = new Set<number>();

/**
 * Runs `node ARGS...` to completion (a benchmark script of its own, not a server), its output
 * saved to `logFile`; resolves with its exit code, or the signal that ended it.
 */
export function runScript(args: string[], options: { cwd: string; logFile: string }): Promise<string> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) return Promise.reject(new Error(`could not start ${args.join(' ')}`));
  scripts.add(pid);
  const log = createWriteStream(options.logFile);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      scripts.delete(pid);
      log.end();
      reject(err);
    });
    child.on('close', (code, sig) => {
      scripts.delete(pid);
      log.end();
      resolve(sig ? `signal ${sig}` : `code ${code}`);
    });
  });
}

/** Last resort on process exit (synchronous): SIGKILL whatever is left, by pid. */
export function killAllSync(): void {
  for (const pid of running.keys()) signal(pid, 'SIGKILL');
  for (const pid of scripts) signal(pid, 'SIGKILL');
}

/** Ctrl-C: ends the scripts still running (SIGTERM, by pid). */
export function stopScripts(): void {
  for (const pid of scripts) signal(pid, 'SIGTERM');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Resident set size of a process in bytes (VmRSS in /proc/PID/status); undefined if unreadable. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has used so far (user + system), in milliseconds, from /proc/PID/stat.
 * Linux reports clock ticks; USER_HZ is 100 on every mainstream kernel, so 10 ms resolution.
 */
export function readCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time the whole machine has been busy (every core, steal included), in milliseconds, from
 * /proc/stat. Minus what the benchmark's own processes used, it shows whether something else
 * was competing for the cores during a run.
 */
export function readSystemBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return Number.isFinite(busy) ? busy * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time the host took from this virtual machine (the `steal` field of /proc/stat), in ms over
 * all CPUs: the vCPUs wanted to run and did not. Undefined where unreadable.
 */
export function readStealMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const steal = Number(line.trim().split(/\s+/)[8]);
    return Number.isFinite(steal) ? steal * 10 : undefined;
  } catch {
    return undefined;
  }
}

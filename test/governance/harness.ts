/**
 * Helpers for the governance tests: JSON calls to a running gateway's admin API and data plane,
 * and a vLLM-style simulated upstream configuration that every test can extend.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertResponse, type RawResponse, send } from '../helpers/raw.ts';

export const ADMIN_KEY = 'sy-admin-governance-0123456789';

export interface JsonResponse extends RawResponse {
  json: unknown;
}

/** Any HTTP call; the body is parsed as JSON when it is JSON. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { key?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const response = assertResponse(await send(url, path, body, headers, method));
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    json = undefined;
  }
  return { ...response, json };
}

/** An admin API call with the admin key. */
export function admin(url: string, method: string, path: string, body?: unknown, key = ADMIN_KEY) {
  return call(url, method, path, { key, ...(body === undefined ? {} : { body }) });
}

/** A non-streaming chat completion. */
export function chat(url: string, key: string, model: string, content = 'hello there') {
  return call(url, 'POST', '/v1/chat/completions', {
    key,
    body: { model, messages: [{ role: 'user', content }] },
  });
}

/** The OpenAI error body's fields. */
export function errorOf(response: JsonResponse): {
  message: string;
  code: string | null;
  param: string | null;
} {
  const body = response.json as { error?: { message: string; code: string | null; param: string | null } };
  assert.ok(body?.error, `expected an error body, got ${response.status} ${response.body}`);
  return body.error;
}

export function expectStatus(response: JsonResponse, status: number): JsonResponse {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.body}`);
  return response;
}

export interface KeyView {
  id: string;
  name: string;
  prefix: string | null;
  team: string | null;
  models: string[] | null;
  rpm: number | null;
  boundary: Record<string, string[]> | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** POST /admin/keys, expecting 201; answers the view and the plaintext. */
export async function createKey(url: string, body: Record<string, unknown>) {
  const response = expectStatus(await admin(url, 'POST', '/admin/keys', body), 201);
  return response.json as KeyView & { key: string };
}

export interface AttemptView {
  provider: string;
  deployment: string;
  outcome: string;
  status?: number;
  latencyMs: number;
  reason?: string;
}

export interface RequestView {
  id: string;
  time: string;
  keyName: string | null;
  team: string | null;
  model: string;
  status: number;
  errorCode: string | null;
  provider: string | null;
  latencyMs: number;
  ttftMs: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  boundary: string | null;
  attempts: AttemptView[];
  requestBody?: string;
  responseBody?: string;
}

/** GET /admin/requests with the query given. */
export async function requestLog(url: string, query = ''): Promise<RequestView[]> {
  const response = expectStatus(await admin(url, 'GET', `/admin/requests${query}`), 200);
  return (response.json as { data: RequestView[] }).data;
}

/** One line of the Prometheus text for `name` with every label given, or undefined. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The main `serve` module, run from the sources (dist/ may be older than this tree). */
const MAIN = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')).href;

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

export interface Served extends Spawned {
  url: string;
}

/** `switchyard <args>` in a child process, from the sources, with extra environment variables. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { main } from '${MAIN}'; process.exitCode = await main(process.argv.slice(1));`,
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `switchyard serve --config FILE --port 0`, once it printed its address. */
export async function spawnServe(configFile: string, env: Record<string, string> = {}): Promise<Served> {
  const spawned = spawnCli(['serve', '--config', configFile, '--port', '0', '--host', '127.0.0.1'], env);
  const url = await new Promise<string>((resolve, reject) => {
    const done = (error?: Error, found?: string) => {
      clearTimeout(timer);
      clearInterval(poll);
      if (found) resolve(found);
      else reject(error);
    };
    const timer = setTimeout(() => {
      spawned.child.kill('SIGKILL');
      done(new Error(`serve did not start within 20 s: ${spawned.stderr()}`));
    }, 20_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(spawned.stdout());
      if (match?.[1]) done(undefined, match[1]);
    }, 20);
    void spawned.exited.then((code) => done(new Error(`serve exited with ${code}: ${spawned.stderr()}`)));
  });
  return { ...spawned, url };
}

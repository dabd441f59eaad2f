/**
 * Shared setup for the routing end-to-end tests: simulated OpenAI clouds (one label each, so an
 * answer's text says which cloud wrote it), a gateway in front of them from YAML, and small
 * clients for the data plane and the admin API. Every test stops what it starts (`Rig.close`).
 */

import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, type SimCloudOptions, startSimCloud } from '../../src/sim/index.ts';
import { memoryLogger } from '../../src/telemetry/log.ts';
import type { AttemptRecord, RequestRecord } from '../../src/telemetry/record.ts';
import { type RawResponse, send, type Upstream } from '../helpers/raw.ts';

export const ADMIN_KEY = 'admin-routing-e2e-0001';
export const CLIENT_KEY = 'sk-routing-e2e-client-0001';
/** The client key's name: it must never become a metrics label. */
export const CLIENT_KEY_NAME = 'routing-e2e-app';
const SIM_KEY = 'sk-sim-routing-e2e';

/** The model id every sim serves; the logical model clients ask for is `m` unless a test says. */
export const UPSTREAM_MODEL = 'gpt-test';

export interface Cloud {
  /** Provider id in the gateway, and the sim's label. */
  id: string;
  sim: SimCloud;
}

/** `kind`: openai (default) or anthropic. */
export type CloudOptions = Omit<SimCloudOptions, 'kind' | 'label' | 'apiKeys' | 'models'> & {
  kind?: 'openai' | 'anthropic';
};

/** One simulated cloud per id (OpenAI unless its options say), labelled with its id. */
export async function startClouds(
  ids: string[],
  options: Record<string, CloudOptions> = {},
): Promise<Cloud[]> {
  return Promise.all(
    ids.map(async (id) => ({
      id,
      sim: await startSimCloud({
        kind: 'openai',
        label: id,
        apiKeys: [SIM_KEY],
        models: [UPSTREAM_MODEL],
        ...options[id],
      }),
    })),
  );
}

export function cloudProvider(cloud: Cloud): string {
  if (cloud.sim.kind === 'anthropic') {
    return `{ id: ${cloud.id}, type: anthropic, region: us, endpoint: ${cloud.sim.url}, apiKey: ${SIM_KEY} }`;
  }
  return `{ id: ${cloud.id}, type: openai, region: us, endpoint: ${cloud.sim.url}/v1, apiKey: ${SIM_KEY} }`;
}

/** A raw upstream (test/helpers/raw.ts) as an OpenAI-compatible provider. */
export function rawProvider(id: string, up: Upstream): string {
  return `{ id: ${id}, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }`;
}

export interface GatewayYaml {
  /** Provider entries (flow maps), e.g. from cloudProvider. */
  providers: string[];
  /** The `models:` list, indented by two spaces. */
  models: string;
  /** The `routing:` block's body, indented by two spaces. */
  routing?: string;
  /** Any other top-level YAML. */
  extra?: string;
}

export const DEFAULT_ROUTING = `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 15000 }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 }
  circuitBreaker: { failureThreshold: 1000, minimumRequests: 1000, cooldownMs: 30000 }`;

export function gatewayYaml(spec: GatewayYaml): string {
  return `
server: { shutdownGraceMs: 1000 }
storage: memory
adminKey: ${ADMIN_KEY}
logging: { flushMs: 50 }
routing:${spec.routing ?? DEFAULT_ROUTING}
providers:
${spec.providers.map((p) => `  - ${p}`).join('\n')}
models:
${spec.models}
keys:
  - { name: ${CLIENT_KEY_NAME}, key: ${CLIENT_KEY} }
${spec.extra ?? ''}`;
}

/** A deployment line of a model, for a cloud serving UPSTREAM_MODEL. */
export function deployment(cloud: Cloud | string, fields = ''): string {
  const id = typeof cloud === 'string' ? cloud : cloud.id;
  return `      - { provider: ${id}, model: ${UPSTREAM_MODEL}${fields ? `, ${fields}` : ''} }`;
}

export interface Rig {
  gateway: RunningGateway;
  url: string;
  clouds: Cloud[];
  close(): Promise<void>;
}

/** The gateway from YAML in front of `clouds`; close() stops the gateway, the clouds and `also`. */
export async function startRig(
  clouds: Cloud[],
  yaml: string,
  also: Array<{ close(): Promise<void> }> = [],
): Promise<Rig> {
  const config = parseConfigText(yaml, '/tmp/switchyard-routing-e2e.yaml', {});
  const gateway = await startGateway(config, { port: 0, host: '127.0.0.1', log: memoryLogger() });
  return {
    gateway,
    url: gateway.url,
    clouds,
    close: async () => {
      await gateway.shutdown(0);
      await Promise.all([...clouds.map((c) => c.sim.close()), ...also.map((a) => a.close())]);
    },
  };
}

export interface ChatResult {
  status: number;
  headers: RawResponse['headers'];
  /** The assistant's text: the message content, or every streamed delta joined. */
  text: string;
  /** The provider id that served (x-switchyard-provider). */
  provider: string;
  /** A streamed `event: error`, when the stream failed after it started. */
  streamError: string | undefined;
  body: string;
  endedAt: number;
}

export interface ChatOptions {
  model?: string;
  stream?: boolean;
  headers?: Record<string, string>;
  maxTokens?: number;
}

/** One chat completion through the gateway; a socket error is thrown. */
export async function chat(url: string, content: string, options: ChatOptions = {}): Promise<ChatResult> {
  const body = JSON.stringify({
    model: options.model ?? 'm',
    messages: [{ role: 'user', content }],
    ...(options.stream ? { stream: true } : {}),
    ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
  });
  const r = await send(url, '/v1/chat/completions', body, {
    authorization: `Bearer ${CLIENT_KEY}`,
    ...options.headers,
  });
  if ('error' in r) throw new Error(`chat "${content}": ${r.error}`);
  const provider = String(r.headers['x-switchyard-provider'] ?? '');
  const base = { status: r.status, headers: r.headers, provider, body: r.body, endedAt: r.endedAt };
  if (r.status !== 200) return { ...base, text: '', streamError: undefined };
  if (!options.stream) {
    const json = JSON.parse(r.body) as { choices: Array<{ message: { content: string | null } }> };
    return { ...base, text: json.choices[0]?.message.content ?? '', streamError: undefined };
  }
  return { ...base, ...readStream(r.body) };
}

/** The text of an OpenAI SSE body, and its error event if it has one. */
export function readStream(body: string): { text: string; streamError: string | undefined } {
  let text = '';
  let streamError: string | undefined;
  for (const block of body.split('\n\n')) {
    const isError = block.startsWith('event: error');
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (data === '' || data === '[DONE]') continue;
    if (isError) {
      streamError = data;
      continue;
    }
    const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string | null } }> };
    for (const choice of chunk.choices ?? []) text += choice.delta?.content ?? '';
  }
  return { text, streamError };
}

/** What a simulated cloud answers to `content` (src/sim/README.md, engine rules). */
export function simText(cloudId: string, content: string): string {
  return `Hello from ${cloudId} (${UPSTREAM_MODEL}). You said: ${content}`;
}

/** GET an admin route with the admin key; throws unless 200. */
export async function adminGet<T>(url: string, path: string): Promise<T> {
  const r = await send(url, path, undefined, { authorization: `Bearer ${ADMIN_KEY}` }, 'GET');
  if ('error' in r) throw new Error(`GET ${path}: ${r.error}`);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

export type StoredRecord = RequestRecord & { time: string };

/** The newest `limit` request records, newest first (GET /admin/requests). */
export async function requestRecords(url: string, limit = 50): Promise<StoredRecord[]> {
  return (await adminGet<{ data: StoredRecord[] }>(url, `/admin/requests?limit=${limit}`)).data;
}

/** The record of the request a response carried the id of. */
export async function recordOf(url: string, response: ChatResult, limit = 200): Promise<StoredRecord> {
  const id = String(response.headers['x-request-id']);
  const found = (await requestRecords(url, limit)).find((r) => r.id === id);
  if (!found) throw new Error(`no request record for ${id}`);
  return found;
}

export interface DeploymentRow {
  provider: string;
  model: string;
  models: string[];
  circuit: 'closed' | 'open' | 'half-open';
  circuitRetryAt: string | null;
  inFlight: number;
  latency: { ttftMs: number | null; totalMs: number | null };
  rpm: { used: number; limit: number | null };
  tpm: { used: number; limit: number | null };
  throttledUntil: string | null;
  reported: { remainingRequests: number | null; remainingTokens: number | null } | null;
}

export async function deploymentRows(url: string): Promise<DeploymentRow[]> {
  return (await adminGet<{ data: DeploymentRow[] }>(url, '/admin/deployments')).data;
}

export async function deploymentRow(url: string, provider: string): Promise<DeploymentRow> {
  const row = (await deploymentRows(url)).find((d) => d.provider === provider);
  if (!row) throw new Error(`no /admin/deployments row for ${provider}`);
  return row;
}

/** `provider: outcome (reason)` per attempt: readable in an assertion message. */
export function explain(attempts: readonly AttemptRecord[]): string {
  return attempts.map((a) => `${a.provider}: ${a.outcome} (${a.reason ?? a.kind ?? ''})`).join('; ');
}

/** Counts how many of `results` each provider served. */
export function servedBy(results: readonly ChatResult[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.provider, (counts.get(r.provider) ?? 0) + 1);
  return counts;
}

/** Inference requests a sim received (its own recorded requests, bounded to the last 200). */
export function inferenceRequests(cloud: Cloud): number {
  return cloud.sim.requests().filter((r) => r.path === '/v1/chat/completions' || r.path === '/v1/messages')
    .length;
}

/** Runs `count` tasks with at most `concurrency` at once; answers their results in task order. */
export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** mulberry32: a small seeded PRNG, so a failing run's faults can be replayed with its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Simulated clouds: real HTTP servers speaking one cloud's native protocol, for the demo, the
 * gateway's end-to-end tests and the benchmark. One neutral engine (engine.ts) decides what the
 * model answers; one protocol module per cloud renders it. See src/sim/README.md.
 */

import { createAnthropicHandler } from './anthropic.ts';
import { createAzureHandler } from './azure.ts';
import type { EntraConfig } from './azure-entra.ts';
import { createBedrockHandler } from './bedrock.ts';
import { type SimFault, simFaultSchema } from './faults.ts';
import { createGeminiHandler, createVertexHandler } from './google.ts';
import { createOpenAIHandler } from './openai.ts';
import { createOpenAICompatibleHandler } from './openai-compatible.ts';
import { type RateLimitKnob, rateLimitSchema } from './rate-limit.ts';
import {
  type ProtocolHandler,
  type RecordedRequest,
  type SimKnobs,
  setRateLimit,
  startServer,
} from './server.ts';

export type { EntraConfig } from './azure-entra.ts';
export type { SimRequest, SimScript } from './engine.ts';
export { runEngine } from './engine.ts';
export type { SimFault } from './faults.ts';
export type { RateLimitKnob } from './rate-limit.ts';
export type { RecordedRequest, SimKnobs } from './server.ts';

export type SimKind =
  | 'openai'
  | 'azure-openai'
  | 'openai-compatible'
  | 'bedrock'
  | 'vertex'
  | 'gemini'
  | 'anthropic';

export interface SimCloudOptions {
  kind: SimKind;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Name used in replies: "Hello from <label> (<model>)". */
  label?: string;
  /** Accepted keys. openai / azure-openai: empty = any non-empty key; openai-compatible: empty = no auth. */
  apiKeys?: string[];
  /** Model ids (Azure: deployment names); empty/absent = accept any, and list none. */
  models?: string[];
  latencyMs?: number;
  tokensPerSecond?: number;
  /** Count traffic per rolling minute, send remaining-capacity headers, answer 429 when spent. */
  rateLimit?: RateLimitKnob;
  /** [0, 1): decides faults that have a `probability` (default Math.random; seed one to replay a run). */
  random?: () => number;
  /** azure-openai only: enables `POST /{tenantId}/oauth2/v2.0/token` and Bearer tokens it issues. */
  entra?: EntraConfig;
  /** azure-openai: the `x-ms-region` header (default "eastus"); bedrock: the SigV4 region; vertex: the location. */
  region?: string;
  /** bedrock only: the credentials whose SigV4 signatures it accepts (apiKeys are Bedrock API keys). */
  aws?: { accessKeyId: string; secretAccessKey: string };
  /** vertex only: the project, and the service account whose JWT assertions its token endpoint accepts. */
  google?: { project: string; serviceAccount?: { clientEmail: string; publicKeyPem: string } };
}

export interface SimCloud {
  kind: SimKind;
  /** http://127.0.0.1:PORT, no trailing slash. */
  url: string;
  port: number;
  /** Appends faults to the queue (see faults.ts); throws on a malformed fault. */
  addFaults(faults: SimFault[]): void;
  clearFaults(): void;
  /** Faults not yet consumed, in order. */
  pendingFaults(): SimFault[];
  /** Recorded requests, newest last, at most the last 200. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Changes latency, pacing or the rate limit (null clears it) at run time. */
  setKnobs(knobs: SimKnobChanges): void;
  /** The knobs now in force. */
  knobs(): SimKnobs;
  /** Stops the server and destroys every connection, hanging ones included. */
  close(): Promise<void>;
}

const LABELS: Record<SimKind, string> = {
  openai: 'simulated OpenAI',
  'azure-openai': 'simulated Azure OpenAI',
  'openai-compatible': 'simulated vLLM',
  bedrock: 'simulated AWS Bedrock',
  vertex: 'simulated Vertex AI',
  gemini: 'simulated Gemini API',
  anthropic: 'simulated Anthropic',
};

function handlerFor(options: SimCloudOptions, label: string): ProtocolHandler {
  const apiKeys = options.apiKeys ?? [];
  const models = options.models ?? [];
  switch (options.kind) {
    case 'openai':
      return createOpenAIHandler({ label, apiKeys, models });
    case 'openai-compatible':
      return createOpenAICompatibleHandler({ label, apiKeys, models });
    case 'azure-openai':
      return createAzureHandler({
        label,
        apiKeys,
        deployments: models,
        region: options.region ?? 'eastus',
        ...(options.entra ? { entra: options.entra } : {}),
      });
    case 'bedrock':
      return createBedrockHandler(options, label);
    case 'vertex':
      return createVertexHandler(options, label);
    case 'gemini':
      return createGeminiHandler(options, label);
    case 'anthropic':
      return createAnthropicHandler(options, label);
  }
}

export type SimKnobChanges = Partial<Omit<SimKnobs, 'rateLimit'>> & { rateLimit?: RateLimitKnob | null };

export async function startSimCloud(options: SimCloudOptions): Promise<SimCloud> {
  const label = options.label ?? LABELS[options.kind];
  const knobs: SimKnobs = {
    latencyMs: options.latencyMs ?? 0,
    tokensPerSecond: options.tokensPerSecond ?? 0,
  };
  if (options.rateLimit) setRateLimit(knobs, rateLimitSchema.parse(options.rateLimit));
  const host = options.host ?? '127.0.0.1';
  const sim = await startServer(host, options.port ?? 0, knobs, handlerFor(options, label), options.random);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    kind: options.kind,
    url: `http://${urlHost}:${sim.port}`,
    port: sim.port,
    // Validated like the HTTP API, so a typo in a test fails loudly instead of never firing.
    addFaults: (faults) => sim.faults.add(simFaultSchema.array().parse(faults)),
    clearFaults: () => sim.faults.clear(),
    pendingFaults: () => sim.faults.pending(),
    requests: () => sim.requests(),
    clearRequests: () => sim.clearRequests(),
    setKnobs: (next) => {
      if (next.latencyMs !== undefined) knobs.latencyMs = next.latencyMs;
      if (next.tokensPerSecond !== undefined) knobs.tokensPerSecond = next.tokensPerSecond;
      // Validated like the HTTP API: a typo fails loudly instead of never limiting.
      if (next.rateLimit !== undefined)
        setRateLimit(knobs, next.rateLimit === null ? null : rateLimitSchema.parse(next.rateLimit));
    },
    knobs: () => ({ ...knobs }),
    close: () => sim.close(),
  };
}

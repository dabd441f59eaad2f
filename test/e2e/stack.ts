import OpenAI from 'openai';
import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';

export const KEYS = { app: 'sk-test-app-0001', limited: 'sk-test-limited-0002' } as const;
export const SIM_KEYS = { azure: 'azure-test-key', openai: 'sk-openai-test-key' } as const;
export const ENTRA = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'entra-secret-1' } as const;

export interface Sims {
  azure: SimCloud;
  openai: SimCloud;
  vllm: SimCloud;
}

export interface Stack {
  gateway: RunningGateway;
  sims: Sims;
  url: string;
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

/**
 * The gateway in front of three simulated clouds. Models:
 * - gpt-5: Azure (classic path, api-key) first, OpenAI second;
 * - gpt-5-v1: Azure's /openai/v1 path with an Entra ID client-credentials token;
 * - llama: the vLLM-style server; text-embedding-3-small: Azure then OpenAI;
 * - quick: like gpt-5 but with a short first-byte timeout, for hang tests;
 * - solo: Azure only, so its failures reach the client.
 */
export function stackYaml(sims: Sims, extra = ''): string {
  return `
server: { maxBodyBytes: 65536, shutdownGraceMs: 2000 }
storage: memory
routing:
  timeouts: { connectMs: 1000, firstByteMs: 10000, idleMs: 10000, totalMs: 30000 }
  retry: { maxAttempts: 3, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 30000 }
providers:
  - { id: azure-eastus, type: azure-openai, region: eastus, endpoint: ${sims.azure.url}, apiKey: ${SIM_KEYS.azure} }
  - id: azure-entra
    type: azure-openai
    region: eastus
    endpoint: ${sims.azure.url}
    apiVersion: v1
    entra: { tenantId: ${ENTRA.tenantId}, clientId: ${ENTRA.clientId}, clientSecret: ${ENTRA.clientSecret}, authorityHost: ${sims.azure.url} }
  - { id: openai, type: openai, region: us, endpoint: ${sims.openai.url}/v1, apiKey: ${SIM_KEYS.openai} }
  - { id: vllm, type: openai-compatible, region: on-prem, endpoint: ${sims.vllm.url}/v1 }
models:
  - name: gpt-5
    deployments:
      - { provider: azure-eastus, model: gpt-5-prod, priority: 1 }
      - { provider: openai, model: gpt-5, priority: 2 }
  - name: gpt-5-v1
    deployments: [{ provider: azure-entra, model: gpt-5-prod }]
  - name: llama
    deployments: [{ provider: vllm, model: llama-3.1-8b }]
  - name: text-embedding-3-small
    deployments:
      - { provider: azure-eastus, model: emb-small, priority: 1 }
      - { provider: openai, model: text-embedding-3-small, priority: 2 }
  - name: quick
    routing: { timeouts: { firstByteMs: 300 } }
    deployments:
      - { provider: azure-eastus, model: gpt-5-prod, priority: 1 }
      - { provider: openai, model: gpt-5, priority: 2 }
  - name: solo
    deployments: [{ provider: azure-eastus, model: gpt-5-prod }]
keys:
  - { name: app, key: ${KEYS.app} }
  - { name: limited, key: ${KEYS.limited}, models: [gpt-5] }
${extra}`;
}

export async function startSims(): Promise<Sims> {
  const [azure, openai, vllm] = await Promise.all([
    startSimCloud({
      kind: 'azure-openai',
      apiKeys: [SIM_KEYS.azure],
      models: ['gpt-5-prod', 'emb-small'],
      entra: { ...ENTRA },
    }),
    startSimCloud({
      kind: 'openai',
      apiKeys: [SIM_KEYS.openai],
      models: ['gpt-5', 'text-embedding-3-small'],
    }),
    startSimCloud({ kind: 'openai-compatible', models: ['llama-3.1-8b'] }),
  ]);
  return { azure, openai, vllm };
}

export async function startStack(yaml: (sims: Sims) => string = stackYaml): Promise<Stack> {
  const sims = await startSims();
  const config = parseConfigText(yaml(sims), '/tmp/switchyard-test.yaml', {});
  const gateway = await startGateway(config, { port: 0, host: '127.0.0.1' });
  return {
    gateway,
    sims,
    url: gateway.url,
    client: (key = KEYS.app) =>
      new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000 }),
    close: async () => {
      await gateway.shutdown(0);
      await Promise.all([sims.azure.close(), sims.openai.close(), sims.vllm.close()]);
    },
  };
}

/** Clears faults and recorded requests between tests sharing one stack. */
export function resetSims(sims: Sims): void {
  for (const sim of [sims.azure, sims.openai, sims.vllm]) {
    sim.clearFaults();
    sim.clearRequests();
  }
}

/** Reads a raw SSE body into its `data:` payloads and event names. */
export function parseSse(text: string): { event: string | undefined; data: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      return { event, data: data.join('\n') };
    });
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../config/index.ts';
import { startGateway } from '../server/http.ts';
import { type SimCloud, startSimCloud } from '../sim/index.ts';
import { drainOnSignal } from './signals.ts';

/** Demo-only credentials: printed on purpose, accepted only by the simulated clouds and this gateway. */
const DEMO_KEYS = { app: 'sk-demo-app-0001', research: 'sk-demo-research-0002' } as const;
const SIM_KEYS = { azure: 'azure-sim-key', openai: 'sk-openai-sim-key' } as const;

export function demoConfigYaml(sims: { azure: SimCloud; openai: SimCloud; vllm: SimCloud }): string {
  return `# Written by \`switchyard demo\`: the simulated clouds' addresses change at every start.
server: { host: 127.0.0.1, port: 8787 }
storage: sqlite:./switchyard.db

providers:
  - id: azure-eastus
    type: azure-openai
    region: eastus
    endpoint: ${sims.azure.url}
    apiKey: ${SIM_KEYS.azure}
    apiVersion: "2024-10-21"
  - id: openai
    type: openai
    region: us
    endpoint: ${sims.openai.url}/v1
    apiKey: ${SIM_KEYS.openai}
  - id: local-vllm
    type: openai-compatible
    region: on-prem
    endpoint: ${sims.vllm.url}/v1

models:
  - name: gpt-5
    strategy: priority
    deployments:
      - { provider: azure-eastus, model: gpt-5-prod, priority: 1 }
      - { provider: openai, model: gpt-5, priority: 2 }
  - name: llama-3.1-8b
    deployments:
      - { provider: local-vllm, model: meta-llama/Llama-3.1-8B-Instruct }
  - name: text-embedding-3-small
    deployments:
      - { provider: azure-eastus, model: emb-small, priority: 1 }
      - { provider: openai, model: text-embedding-3-small, priority: 2 }

keys:
  - { name: demo-app, key: ${DEMO_KEYS.app} }
  - { name: demo-research, key: ${DEMO_KEYS.research}, models: [gpt-5] }
`;
}

export async function runDemo(port: number): Promise<number> {
  const sims = {
    azure: await startSimCloud({
      kind: 'azure-openai',
      label: 'simulated Azure OpenAI',
      apiKeys: [SIM_KEYS.azure],
      models: ['gpt-5-prod', 'emb-small'],
      tokensPerSecond: 40,
    }),
    openai: await startSimCloud({
      kind: 'openai',
      label: 'simulated OpenAI',
      apiKeys: [SIM_KEYS.openai],
      models: ['gpt-5', 'text-embedding-3-small'],
      tokensPerSecond: 40,
    }),
    vllm: await startSimCloud({ kind: 'openai-compatible', label: 'simulated vLLM', tokensPerSecond: 40 }),
  };
  const dir = resolve('data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'demo.yaml');
  const yaml = demoConfigYaml(sims);
  writeFileSync(file, yaml);
  const config = parseConfigText(yaml, file, {});
  const closeSims = () => Promise.all(Object.values(sims).map((s) => s.close())).then(() => undefined);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, { port });
  } catch (err) {
    // The simulated clouds would keep the process alive after the error otherwise.
    await closeSims();
    throw err;
  }
  const g = gateway.url;
  process.stdout.write(`Switchyard demo: a gateway in front of three simulated clouds.

  simulated Azure OpenAI   ${sims.azure.url}   (primary for gpt-5)
  simulated OpenAI         ${sims.openai.url}   (second choice for gpt-5)
  simulated vLLM           ${sims.vllm.url}   (llama-3.1-8b)
  configuration            ${file}

Example keys:
  ${DEMO_KEYS.app}        all models
  ${DEMO_KEYS.research}   gpt-5 only

Try:
  curl -s ${g}/v1/chat/completions -H 'authorization: Bearer ${DEMO_KEYS.app}' \\
    -H 'content-type: application/json' -d '{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}' -i
  curl -sN ${g}/v1/chat/completions -H 'authorization: Bearer ${DEMO_KEYS.app}' \\
    -H 'content-type: application/json' -d '{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}'

Make Azure fail (every request answers 503) and watch x-switchyard-provider turn to "openai":
  curl -s -X POST ${sims.azure.url}/_sim/faults -H 'content-type: application/json' \\
    -d '{"faults":[{"kind":"status","status":503,"times":"always"}]}'
Heal it:
  curl -s -X DELETE ${sims.azure.url}/_sim/faults

OpenAI SDK: new OpenAI({ baseURL: '${g}/v1', apiKey: '${DEMO_KEYS.app}' })

listening on ${g}
`);
  return drainOnSignal(gateway, closeSims);
}

import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../config/index.ts';
import { startGateway } from '../server/http.ts';
import { type SimCloud, startSimCloud } from '../sim/index.ts';
import { drainOnSignal } from './signals.ts';

/** Demo-only credentials: printed on purpose, accepted only by the simulated clouds and this gateway. */
const DEMO_KEYS = {
  app: 'sk-demo-app-0001',
  research: 'sk-demo-research-0002',
  admin: 'sk-demo-admin-0003',
} as const;
const SIM = {
  azure: 'azure-sim-key',
  openai: 'sk-openai-sim-key',
  aws: { accessKeyId: 'AKIDDEMOSWITCHYARD', secretAccessKey: 'demo-bedrock-secret' },
  gemini: 'gemini-sim-key',
  anthropic: 'sk-ant-sim-key',
  project: 'switchyard-demo',
  serviceAccount: 'demo@switchyard-demo.iam.gserviceaccount.com',
} as const;

export interface DemoSims {
  azure: SimCloud;
  openai: SimCloud;
  bedrock: SimCloud;
  vertex: SimCloud;
  gemini: SimCloud;
  anthropic: SimCloud;
  vllm: SimCloud;
}

export function demoConfigYaml(sims: DemoSims, serviceAccountFile: string): string {
  return `# Written by \`switchyard demo\`: the simulated clouds' addresses change at every start.
server: { host: 127.0.0.1, port: 8787 }
storage: sqlite:./switchyard.db
adminKey: ${DEMO_KEYS.admin}

providers:
  - { id: azure-eastus, type: azure-openai, region: eastus, endpoint: ${sims.azure.url}, apiKey: ${SIM.azure}, apiVersion: "2024-10-21" }
  - { id: openai, type: openai, region: us, endpoint: ${sims.openai.url}/v1, apiKey: ${SIM.openai} }
  - id: bedrock-us-east-1
    type: bedrock
    region: us-east-1
    endpoint: ${sims.bedrock.url}
    accessKeyId: ${SIM.aws.accessKeyId}
    secretAccessKey: ${SIM.aws.secretAccessKey}
  - { id: vertex-europe-west4, type: vertex, region: europe-west4, project: ${SIM.project}, serviceAccountFile: ${serviceAccountFile}, endpoint: ${sims.vertex.url} }
  - { id: gemini, type: gemini, region: global, endpoint: ${sims.gemini.url}, apiKey: ${SIM.gemini} }
  - { id: anthropic, type: anthropic, region: us, endpoint: ${sims.anthropic.url}, apiKey: ${SIM.anthropic} }
  - { id: local-vllm, type: openai-compatible, region: on-prem, endpoint: ${sims.vllm.url}/v1 }

models:
  - name: gpt-5                      # Azure first; OpenAI, then Bedrock's open-weight model when it fails
    strategy: priority
    deployments:
      - { provider: azure-eastus, model: gpt-5-prod, priority: 1 }
      - { provider: openai, model: gpt-5, priority: 2 }
      - { provider: bedrock-us-east-1, model: "openai.gpt-oss-120b-1:0", priority: 3 }
  - name: claude-sonnet-4-5          # Anthropic first, the same model on Bedrock second
    deployments:
      - { provider: anthropic, model: claude-sonnet-4-5, priority: 1 }
      - { provider: bedrock-us-east-1, model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", priority: 2 }
  - name: gemini-2.5-flash           # Gemini API first, Vertex AI in Europe second
    deployments:
      - { provider: gemini, model: gemini-2.5-flash, priority: 1 }
      - { provider: vertex-europe-west4, model: gemini-2.5-flash, priority: 2 }
  - name: llama-3.1-8b
    deployments:
      - { provider: local-vllm, model: meta-llama/Llama-3.1-8B-Instruct }
  - name: text-embedding-3-small
    deployments:
      - { provider: azure-eastus, model: emb-small, priority: 1 }
      - { provider: openai, model: text-embedding-3-small, priority: 2 }

teams:
  - name: research                   # keys of this team stay in Europe and spend at most $5 a day
    boundary: { regions: ["europe-*"] }
    budget: { usd: 5, period: day, mode: hard }

keys:
  - { name: demo-app, key: ${DEMO_KEYS.app} }
  - { name: demo-research, key: ${DEMO_KEYS.research}, team: research, models: [gemini-2.5-flash], rpm: 20 }
`;
}

async function startDemoSims(publicKeyPem: string): Promise<DemoSims> {
  const paced = { tokensPerSecond: 40 };
  return {
    azure: await startSimCloud({
      kind: 'azure-openai',
      apiKeys: [SIM.azure],
      models: ['gpt-5-prod', 'emb-small'],
      ...paced,
    }),
    openai: await startSimCloud({
      kind: 'openai',
      apiKeys: [SIM.openai],
      models: ['gpt-5', 'text-embedding-3-small'],
      ...paced,
    }),
    bedrock: await startSimCloud({ kind: 'bedrock', region: 'us-east-1', aws: SIM.aws, ...paced }),
    vertex: await startSimCloud({
      kind: 'vertex',
      region: 'europe-west4',
      google: { project: SIM.project, serviceAccount: { clientEmail: SIM.serviceAccount, publicKeyPem } },
      ...paced,
    }),
    gemini: await startSimCloud({ kind: 'gemini', apiKeys: [SIM.gemini], ...paced }),
    anthropic: await startSimCloud({ kind: 'anthropic', apiKeys: [SIM.anthropic], ...paced }),
    vllm: await startSimCloud({ kind: 'openai-compatible', ...paced }),
  };
}

export async function runDemo(port: number): Promise<number> {
  // A throwaway service account for the simulated Vertex AI: the gateway signs real JWTs with it.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const sims = await startDemoSims(publicKey);
  const closeSims = () => Promise.all(Object.values(sims).map((s) => s.close())).then(() => undefined);
  const dir = resolve('data');
  mkdirSync(dir, { recursive: true });
  const serviceAccountFile = join(dir, 'demo-vertex-service-account.json');
  writeFileSync(
    serviceAccountFile,
    JSON.stringify({
      type: 'service_account',
      project_id: SIM.project,
      private_key_id: 'demo-key-1',
      private_key: privateKey,
      client_email: SIM.serviceAccount,
      token_uri: `${sims.vertex.url}/token`,
    }),
    { mode: 0o600 },
  );
  const file = join(dir, 'demo.yaml');
  const yaml = demoConfigYaml(sims, serviceAccountFile);
  writeFileSync(file, yaml);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(parseConfigText(yaml, file, {}), { port });
  } catch (err) {
    // The simulated clouds would keep the process alive after the error otherwise.
    await closeSims();
    throw err;
  }
  const g = gateway.url;
  const chat = (model: string, extra = '') =>
    `curl -s ${g}/v1/chat/completions -H 'authorization: Bearer ${DEMO_KEYS.app}' \\\n    -H 'content-type: application/json' -d '{"model":"${model}",${extra}"messages":[{"role":"user","content":"hi"}]}'`;
  // Signals first, then the announcement (as in serve): a SIGTERM right after it must drain.
  const drained = drainOnSignal(gateway, closeSims);
  process.stdout.write(`Switchyard demo: one OpenAI-compatible endpoint in front of seven simulated clouds.

  simulated Azure OpenAI   ${sims.azure.url}   gpt-5 (first choice), embeddings
  simulated OpenAI         ${sims.openai.url}   gpt-5 (second), embeddings
  simulated AWS Bedrock    ${sims.bedrock.url}   gpt-5 (third, gpt-oss), claude-sonnet-4-5 (second)
  simulated Anthropic      ${sims.anthropic.url}   claude-sonnet-4-5 (first)
  simulated Gemini API     ${sims.gemini.url}   gemini-2.5-flash (first)
  simulated Vertex AI      ${sims.vertex.url}   gemini-2.5-flash (second)
  simulated vLLM           ${sims.vllm.url}   llama-3.1-8b
  configuration            ${file}

Example keys:
  ${DEMO_KEYS.app}        all models
  ${DEMO_KEYS.research}   team research: gemini-2.5-flash only, inside Europe (Vertex AI), 20 rpm, $5/day
  ${DEMO_KEYS.admin}      the admin key (/admin/*)

Try (look at the x-switchyard-provider header with -i):
  ${chat('gpt-5')} -i
  ${chat('gpt-5', '"stream":true,')}
  ${chat('claude-sonnet-4-5')}
  ${chat('gemini-2.5-flash')}

Make Azure fail (every request answers 503) and watch gpt-5 move to "openai":
  curl -s -X POST ${sims.azure.url}/_sim/faults -H 'content-type: application/json' \\
    -d '{"faults":[{"kind":"status","status":503,"times":"always"}]}'
Heal it:
  curl -s -X DELETE ${sims.azure.url}/_sim/faults

The research key's data boundary keeps it on Vertex AI in Europe (the Gemini API is global):
  curl -s ${g}/v1/chat/completions -H 'authorization: Bearer ${DEMO_KEYS.research}' \\
    -H 'content-type: application/json' -d '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}' -i

Where the requests went and what they cost:
  curl -s ${g}/admin/requests?limit=5 -H 'authorization: Bearer ${DEMO_KEYS.admin}'
  curl -s '${g}/admin/usage?groupBy=model' -H 'authorization: Bearer ${DEMO_KEYS.admin}'
  curl -s ${g}/admin/deployments -H 'authorization: Bearer ${DEMO_KEYS.admin}'
  curl -s ${g}/metrics

OpenAI SDK: new OpenAI({ baseURL: '${g}/v1', apiKey: '${DEMO_KEYS.app}' })

listening on ${g}
`);
  return drained;
}

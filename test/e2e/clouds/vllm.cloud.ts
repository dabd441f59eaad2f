import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

const cloud: CloudUnderTest = {
  name: 'vllm',
  chatModel: 'llama-3.1-8b',
  embeddingsModel: 'bge-small',
  contentFilter: 'finish_reason',
  supportsN: true,
  echoesToolIds: true,
  async start() {
    const sim = await startSimCloud({ kind: 'openai-compatible' });
    return {
      sim,
      providerYaml: `  - { id: p-vllm, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

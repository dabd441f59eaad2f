import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

const cloud: CloudUnderTest = {
  name: 'openai',
  chatModel: 'gpt-5',
  embeddingsModel: 'text-embedding-3-small',
  contentFilter: 'finish_reason',
  supportsN: true,
  echoesToolIds: true,
  async start() {
    const sim = await startSimCloud({ kind: 'openai', apiKeys: ['sk-openai-matrix'] });
    return {
      sim,
      providerYaml: `  - { id: p-openai, type: openai, region: us, endpoint: ${sim.url}/v1, apiKey: sk-openai-matrix }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

const cloud: CloudUnderTest = {
  name: 'azure',
  chatModel: 'gpt-5-prod',
  embeddingsModel: 'emb-small',
  contentFilter: 'error_400',
  supportsN: true,
  echoesToolIds: true,
  async start() {
    const sim = await startSimCloud({
      kind: 'azure-openai',
      apiKeys: ['azure-matrix-key'],
      models: ['gpt-5-prod', 'emb-small'],
    });
    return {
      sim,
      providerYaml: `  - { id: p-azure, type: azure-openai, region: eastus, endpoint: ${sim.url}, apiKey: azure-matrix-key }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

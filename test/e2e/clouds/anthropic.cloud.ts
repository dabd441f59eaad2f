import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

/** Anthropic's Messages API: no n, content filter as finish_reason (stop_reason "refusal"), no embeddings. */
const cloud: CloudUnderTest = {
  name: 'anthropic',
  chatModel: 'claude-sonnet-4-6',
  contentFilter: 'finish_reason',
  supportsN: false,
  echoesToolIds: true,
  async start() {
    const sim = await startSimCloud({
      kind: 'anthropic',
      apiKeys: ['sk-ant-matrix-key'],
      models: ['claude-sonnet-4-6'],
    });
    return {
      sim,
      providerYaml: `  - { id: p-anthropic, type: anthropic, region: us, endpoint: ${sim.url}, apiKey: sk-ant-matrix-key }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

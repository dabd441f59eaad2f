import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

/**
 * The Gemini API with an API key. A Gemini 3 model, so replayed tool calls must carry thought
 * signatures (the client-made ids of the tool-result scenario get Google's documented stand-in).
 */
const cloud: CloudUnderTest = {
  name: 'gemini',
  chatModel: 'gemini-3-flash-preview',
  embeddingsModel: 'gemini-embedding-001',
  contentFilter: 'finish_reason',
  supportsN: true,
  // The Gemini API takes function-call ids, but only ids Gemini issued are sent back.
  echoesToolIds: false,
  async start() {
    const sim = await startSimCloud({
      kind: 'gemini',
      apiKeys: ['gemini-matrix-key'],
      models: ['gemini-3-flash-preview', 'gemini-embedding-001'],
    });
    return {
      sim,
      providerYaml: `  - { id: p-gemini, type: gemini, region: global, endpoint: ${sim.url}, apiKey: gemini-matrix-key }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

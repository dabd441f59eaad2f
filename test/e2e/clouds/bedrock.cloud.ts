import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

const aws = { accessKeyId: 'AKIDMATRIXBEDROCK', secretAccessKey: 'matrix-bedrock-secret' };

/**
 * AWS Bedrock through Converse / ConverseStream and InvokeModel, SigV4-signed. The chat model is a
 * cross-region inference profile id: its `:` exercises the double-encoded canonical URI.
 */
const cloud: CloudUnderTest = {
  name: 'bedrock',
  chatModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
  embeddingsModel: 'amazon.titan-embed-text-v2:0',
  contentFilter: 'finish_reason',
  supportsN: false,
  echoesToolIds: true,
  async start() {
    const sim = await startSimCloud({ kind: 'bedrock', region: 'us-east-1', aws });
    return {
      sim,
      providerYaml: `  - { id: p-bedrock, type: bedrock, region: us-east-1, endpoint: ${sim.url}, accessKeyId: ${aws.accessKeyId}, secretAccessKey: ${aws.secretAccessKey} }`,
      close: () => sim.close(),
    };
  },
};
export default cloud;

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCloud } from '../../../src/sim/index.ts';
import type { CloudUnderTest } from './types.ts';

const PROJECT = 'switchyard-matrix';
const CLIENT_EMAIL = `matrix@${PROJECT}.iam.gserviceaccount.com`;

/**
 * Vertex AI with a real service-account flow: a freshly generated RSA key, a key file whose
 * token_uri points at the sim's own OAuth endpoint, and Bearer tokens the sim issued.
 */
const cloud: CloudUnderTest = {
  name: 'vertex',
  chatModel: 'gemini-2.5-flash',
  embeddingsModel: 'text-embedding-005',
  contentFilter: 'finish_reason',
  supportsN: true,
  // Vertex refuses ids on function parts: the sim sees function names, not the client's call ids.
  echoesToolIds: false,
  async start() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const sim = await startSimCloud({
      kind: 'vertex',
      region: 'europe-west4',
      models: ['gemini-2.5-flash', 'text-embedding-005'],
      google: { project: PROJECT, serviceAccount: { clientEmail: CLIENT_EMAIL, publicKeyPem: publicKey } },
    });
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-vertex-'));
    const keyFile = join(dir, 'service-account.json');
    await writeFile(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        project_id: PROJECT,
        private_key_id: 'matrix-key-1',
        private_key: privateKey,
        client_email: CLIENT_EMAIL,
        client_id: '100000000000000000001',
        token_uri: `${sim.url}/token`,
      }),
      { mode: 0o600 },
    );
    return {
      sim,
      providerYaml: [
        '  - id: p-vertex',
        '    type: vertex',
        '    region: europe-west4',
        `    project: ${PROJECT}`,
        `    serviceAccountFile: ${keyFile}`,
        `    endpoint: ${sim.url}`,
      ].join('\n'),
      close: async () => {
        await sim.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};
export default cloud;

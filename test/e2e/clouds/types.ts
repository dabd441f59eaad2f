import type { SimCloud } from '../../../src/sim/index.ts';

/**
 * One cloud as the capability matrix (test/e2e/matrix.test.ts) drives it: a simulated cloud, the
 * provider entry that points the gateway at it, and what the cloud can do. Each cloud's file
 * `test/e2e/clouds/<name>.cloud.ts` default-exports one of these; the matrix finds them all.
 */
export interface CloudUnderTest {
  /** Short name: the gateway gets provider `p-<name>`, chat model `m-<name>`, embeddings model `e-<name>`. */
  name: string;
  /** Starts the simulated cloud (and anything it needs, e.g. a token endpoint). */
  start(): Promise<StartedCloud>;
  /** The model id / deployment name at the provider for chat. */
  chatModel: string;
  /** The embeddings model at the provider, when the cloud serves embeddings. */
  embeddingsModel?: string;
  /** How `[sim:finish=content_filter]` reaches an OpenAI client. */
  contentFilter: 'finish_reason' | 'error_400';
  /** Whether the cloud honours n > 1 (otherwise the gateway must answer 400 naming `n`). */
  supportsN: boolean;
  /** Whether a tool-call id the cloud returned is sent back to it with the tool result. */
  echoesToolIds: boolean;
}

export interface StartedCloud {
  sim: SimCloud;
  /** One YAML list item (starting with `- id: p-<name>`), indented by 2 spaces, for `providers:`. */
  providerYaml: string;
  close(): Promise<void>;
}

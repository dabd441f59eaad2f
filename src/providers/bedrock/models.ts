import type { DataResidency } from '../types.ts';

/**
 * Bedrock model ids: where a request for one goes on the wire, and where its data may be processed.
 */

/**
 * The path of an operation on a model. The id is one percent-encoded path segment (`:` → `%3A`,
 * an ARN's `/` → `%2F`), as the AWS SDKs send it; the SigV4 canonical URI then encodes it once more.
 */
export function modelOperationPath(
  modelId: string,
  operation: 'converse' | 'converse-stream' | 'invoke',
): string {
  return `/model/${encodeURIComponent(modelId)}/${operation}`;
}

/**
 * System inference-profile prefixes → the AWS regions they may route to (AWS Bedrock API reference: Model IDs, inference profiles, URL encoding). `us-gov` is
 * listed before `us` so the longer prefix wins. Profiles of one geography stay in it; `global`
 * routes to any commercial region.
 */
const GEOGRAPHIES: ReadonlyArray<readonly [prefix: string, regions: readonly string[]]> = [
  ['us-gov', ['us-gov-*']],
  ['us', ['us-east-*', 'us-west-*']],
  ['eu', ['eu-*']],
  ['apac', ['ap-*']],
  ['jp', ['ap-northeast-1', 'ap-northeast-3']],
  ['au', ['ap-southeast-2', 'ap-southeast-4']],
  ['ca', ['ca-*']],
];

/** `arn:aws:bedrock:<region>:<account>:<resource-type>/<id>` → region and resource id. */
const ARN = /^arn:aws[a-z-]*:bedrock:([a-z0-9-]*):[^:]*:([a-z-]+)\/(.+)$/;

/**
 * Where Bedrock may process a request for `modelId` sent to `region`: a base model id or an
 * application/provisioned ARN stays in its region, a `us.`/`eu.`/`apac.`/... system inference
 * profile anywhere in that geography, a `global.` profile anywhere. Routing's data boundaries use it.
 */
export function inferenceProfileResidency(modelId: string, region: string): DataResidency {
  let id = modelId;
  let home = region;
  const arn = ARN.exec(modelId);
  if (arn) {
    home = arn[1] || region;
    // An application inference profile may copy a cross-region or a global profile, and its ARN
    // does not say which: fail closed, as global (only a boundary allowing global admits it).
    if (arn[2] === 'application-inference-profile')
      return { scope: 'global', geography: 'global', regions: ['*'] };
    // A system inference profile's ARN names its geography below; other ARNs (provisioned models,
    // foundation models) stay in their region.
    if (arn[2] !== 'inference-profile') return { scope: 'in-region', regions: [home] };
    id = arn[3] ?? '';
  }
  if (id.startsWith('global.')) return { scope: 'global', geography: 'global', regions: ['*'] };
  for (const [prefix, regions] of GEOGRAPHIES) {
    if (id.startsWith(`${prefix}.`)) return { scope: 'geography', geography: prefix, regions: [...regions] };
  }
  return { scope: 'in-region', regions: [home] };
}

/** The embeddings families Switchyard speaks through InvokeModel. */
export type EmbeddingFamily = 'titan' | 'cohere';

/** Which embeddings body a model id takes; profile prefixes and ARNs are looked through. */
export function embeddingFamily(modelId: string): EmbeddingFamily | undefined {
  const base = modelId.slice(modelId.lastIndexOf('/') + 1);
  if (/(^|\.)amazon\.titan-embed-/.test(base)) return 'titan';
  if (/(^|\.)cohere\.embed-/.test(base)) return 'cohere';
  return undefined;
}

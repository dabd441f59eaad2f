/**
 * The configuration file's schema: every object is strict (an unknown key is an error, so a typo
 * never silently disables a setting) and every default lives here, in one place.
 *
 * Values reach this schema after `${ENV}` interpolation, so a number or boolean may arrive as a
 * string ("8787" from `${PORT:-8787}`); numeric and boolean fields accept such strings. Elsewhere
 * strings stay strings: a key that happens to look like a number is not turned into one.
 */
import { z } from 'zod';
import { parseIsoTime } from '../core/time.ts';

/** Turns "8787" into 8787 where the schema wants a number; anything else goes through untouched. */
function coerceNumericString(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    return Number(value);
  }
  return value;
}

function coerceBooleanString(value: unknown): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

/** `${AWS_SESSION_TOKEN:-}` yields "": an empty secret means "not given", not "given as empty". */
function emptyToUndefined(value: unknown): unknown {
  return value === '' ? undefined : value;
}

const int = (min: number) => z.preprocess(coerceNumericString, z.number().int().min(min));
const positiveInt = () => int(1);
const nonNegative = () => z.preprocess(coerceNumericString, z.number().min(0));
const bool = () => z.preprocess(coerceBooleanString, z.boolean());
const nonEmpty = () => z.string().min(1);

/** A credential: never echoed in errors, and "" counts as absent. */
const optionalSecret = () => z.preprocess(emptyToUndefined, nonEmpty().optional());
const requiredSecret = () => z.preprocess(emptyToUndefined, nonEmpty());

const httpUrl = () =>
  z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+[^\s]*$/i, { error: 'expected an http(s) URL' })
    // Adapters append paths; a trailing slash would double up.
    .transform((url) => url.replace(/\/+$/, ''));

export const PROVIDER_TYPES = [
  'openai',
  'azure-openai',
  'bedrock',
  'vertex',
  'gemini',
  'anthropic',
  'openai-compatible',
] as const;

export const ROUTING_STRATEGIES = [
  'priority',
  'weighted',
  'least-latency',
  'lowest-cost',
  'least-busy',
  'commitment-first',
] as const;

export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const;

/** Config keys whose values are credentials: error messages never print them. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'apiKey',
  'key',
  'adminKey',
  'secretAccessKey',
  'sessionToken',
  'accessKeyId',
  'clientSecret',
  'bearerToken',
]);

const budgetPeriodSchema = z.enum(BUDGET_PERIODS);

/** How image URLs in user messages are fetched for clouds that need the bytes (Bedrock, Gemini). */
export const imageFetchSchema = z.strictObject({
  enabled: bool().default(true),
  /** Largest single image (fetched, or decoded from a data URL). */
  maxBytes: positiveInt().default(20 * 1024 * 1024),
  timeoutMs: positiveInt().default(10_000),
  /** Loopback, private and link-local addresses are refused unless allowed: the gateway is no SSRF proxy. */
  allowPrivateNetworks: bool().default(false),
  /** Most images one request may carry (URLs and data URLs alike). */
  maxImages: positiveInt().default(20),
  /** Most image bytes one request may need in all. */
  maxTotalBytes: positiveInt().default(50 * 1024 * 1024),
  /** Images of one request fetched at the same time. */
  concurrency: positiveInt().default(4),
  /** Ports an image URL may name (the scheme's default port counts as 80 or 443). */
  allowedPorts: z
    .array(z.preprocess(coerceNumericString, z.number().int().min(1).max(65535)))
    .default([80, 443]),
});

export const serverSchema = z.strictObject({
  host: nonEmpty().default('127.0.0.1'),
  port: z.preprocess(coerceNumericString, z.number().int().min(0).max(65535)).default(8787),
  maxBodyBytes: positiveInt().default(33_554_432),
  /** The whole request body must arrive within this long, and never go silent for longer. Else 408. */
  bodyTimeoutMs: positiveInt().default(30_000),
  /** Requests handled at once; beyond it new requests get 503 with retry-after. */
  maxInFlight: positiveInt().default(4096),
  /** After SIGTERM, keep accepting and serving this long (readiness already 503), then drain. */
  drainDelayMs: int(0).default(0),
  shutdownGraceMs: int(0).default(10_000),
  metricsAuth: bool().default(false),
  /** Most inputs one embeddings request may carry (OpenAI's own limit is 2048). */
  maxEmbeddingInputs: positiveInt().default(2048),
  imageFetch: imageFetchSchema.prefault({}),
});

const timeoutsShape = {
  connectMs: positiveInt(),
  firstByteMs: positiveInt(),
  idleMs: positiveInt(),
  totalMs: positiveInt(),
};
const retryShape = {
  maxAttempts: positiveInt(),
  budgetPercent: z.preprocess(coerceNumericString, z.number().min(0).max(100)),
  /** Base of the exponential backoff (full jitter) before the same deployment is tried again. */
  backoffMs: int(0),
  /**
   * A throttle (429) that clears within this long is waited out and the deployment tried again,
   * within the request's deadline; a longer one goes back to the client as 429 with retry-after.
   */
  maxThrottleWaitMs: int(0),
};
const circuitBreakerShape = {
  failureThreshold: positiveInt(),
  failureRatePercent: z.preprocess(coerceNumericString, z.number().min(1).max(100)),
  minimumRequests: positiveInt(),
  windowMs: positiveInt(),
  cooldownMs: int(0),
};

export const routingSchema = z.strictObject({
  timeouts: z
    .strictObject({
      connectMs: timeoutsShape.connectMs.default(2000),
      firstByteMs: timeoutsShape.firstByteMs.default(60_000),
      idleMs: timeoutsShape.idleMs.default(30_000),
      totalMs: timeoutsShape.totalMs.default(600_000),
    })
    .prefault({}),
  retry: z
    .strictObject({
      maxAttempts: retryShape.maxAttempts.default(3),
      budgetPercent: retryShape.budgetPercent.default(20),
      backoffMs: retryShape.backoffMs.default(200),
      maxThrottleWaitMs: retryShape.maxThrottleWaitMs.default(2000),
    })
    .prefault({}),
  circuitBreaker: z
    .strictObject({
      failureThreshold: circuitBreakerShape.failureThreshold.default(5),
      failureRatePercent: circuitBreakerShape.failureRatePercent.default(50),
      minimumRequests: circuitBreakerShape.minimumRequests.default(20),
      windowMs: circuitBreakerShape.windowMs.default(30_000),
      cooldownMs: circuitBreakerShape.cooldownMs.default(30_000),
    })
    .prefault({}),
});

/** A model's `routing:`: any subset of the global settings; unset values inherit them. */
export const routingOverrideSchema = z.strictObject({
  timeouts: z.strictObject(timeoutsShape).partial().optional(),
  retry: z.strictObject(retryShape).partial().optional(),
  circuitBreaker: z.strictObject(circuitBreakerShape).partial().optional(),
});

export const budgetSchema = z.strictObject({
  usd: nonNegative(),
  period: budgetPeriodSchema,
  mode: z.enum(['hard', 'soft']).default('hard'),
});

export const boundarySchema = z.strictObject({
  /** Globs on provider regions ("europe-*"). */
  regions: z.array(nonEmpty()).optional(),
  /** Provider ids. */
  providers: z.array(nonEmpty()).optional(),
  /** Provider tags; every listed tag must be on the provider. */
  tags: z.array(nonEmpty()).optional(),
});

/** USD per million tokens. */
export const priceSchema = z.strictObject({
  input: nonNegative(),
  output: nonNegative(),
  /** Prompt tokens read from a cache; default: the input price. */
  cachedInput: nonNegative().optional(),
  /** Prompt tokens written to a cache; default: the input price. */
  cacheWrite: nonNegative().optional(),
});

/**
 * Committed capacity at a provider: a spend commitment (`usd` per `period`) or provisioned
 * throughput (`tpm`, tokens per minute, e.g. Azure PTU or Bedrock provisioned throughput).
 */
export const commitmentSchema = z
  .strictObject({
    usd: nonNegative().optional(),
    tpm: positiveInt().optional(),
    period: budgetPeriodSchema.default('month'),
  })
  .superRefine(
    (c, ctx) => {
      if (typeof c !== 'object' || c === null) return;
      if ((c.usd === undefined) === (c.tpm === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'give exactly one of usd (spend) or tpm (provisioned tokens per minute)',
        });
      }
    },
    { when: () => true },
  );

/** An ISO 8601 time ("2027-01-31T00:00:00Z"), kept as epoch milliseconds. */
const isoTime = () =>
  z.string().refine((v) => parseIsoTime(v) !== undefined, {
    error: 'expected an ISO 8601 time such as 2027-01-31T00:00:00Z (a date that exists)',
  });

const providerIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, {
  error: 'expected 1-64 characters from A-Z a-z 0-9 . _ -',
});

/** Fields every provider type takes. `region` defaults to "global" where the cloud has no region to name. */
function providerShape<T extends (typeof PROVIDER_TYPES)[number]>(type: T, regionRequired: boolean) {
  return {
    id: providerIdSchema,
    type: z.literal(type),
    region: regionRequired ? nonEmpty() : nonEmpty().default('global'),
    endpoint: httpUrl().optional(),
    tags: z.array(nonEmpty()).default([]),
    commitment: commitmentSchema.optional(),
    /** Extra headers sent upstream on every call (values may be credentials: never echoed). */
    headers: z.record(z.string(), z.string()).optional(),
  };
}

/**
 * The fields every provider shares, without `type`. When `type` itself is wrong the union cannot
 * pick an option; these are then checked on their own so their problems still show up in one run.
 */
export const providerCommonSchema = z.looseObject({
  ...providerShape('openai', false),
  type: z.unknown(),
  region: nonEmpty().optional(),
});

const openaiProviderSchema = z.strictObject({
  ...providerShape('openai', false),
  apiKey: requiredSecret(),
  organization: nonEmpty().optional(),
  project: nonEmpty().optional(),
});

const azureEntraSchema = z.strictObject({
  tenantId: nonEmpty(),
  clientId: nonEmpty(),
  clientSecret: requiredSecret(),
  authorityHost: httpUrl().default('https://login.microsoftonline.com'),
  scope: nonEmpty().default('https://cognitiveservices.azure.com/.default'),
});

const azureOpenAIProviderSchema = z
  .strictObject({
    ...providerShape('azure-openai', false),
    endpoint: httpUrl(),
    /** "v1" selects the `/openai/v1/` path; a date selects `/openai/deployments/{name}/...?api-version=`. */
    apiVersion: nonEmpty().default('2024-10-21'),
    apiKey: optionalSecret(),
    /** A static Entra ID token (for short-lived setups; `entra` fetches and refreshes tokens). */
    bearerToken: optionalSecret(),
    entra: azureEntraSchema.optional(),
  })
  .superRefine(
    (provider, ctx) => {
      if (typeof provider !== 'object' || provider === null) return;
      const given = (['apiKey', 'bearerToken', 'entra'] as const).filter((k) => provider[k] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `exactly one credential is required: apiKey, bearerToken or entra (got ${
            given.length === 0 ? 'none' : given.join(' and ')
          })`,
        });
      }
    },
    // Run even when other fields failed, so every problem is reported in one pass.
    { when: () => true },
  );

const bedrockProviderSchema = z
  .strictObject({
    ...providerShape('bedrock', true),
    /** Absent: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN env vars at runtime. */
    accessKeyId: optionalSecret(),
    secretAccessKey: optionalSecret(),
    sessionToken: optionalSecret(),
    /** A Bedrock API key, sent as a bearer token instead of SigV4 signing. */
    apiKey: optionalSecret(),
  })
  .superRefine(
    (provider, ctx) => {
      if (typeof provider !== 'object' || provider === null) return;
      const has = (v: unknown) => v !== undefined && v !== '';
      if (has(provider.accessKeyId) && !has(provider.secretAccessKey)) {
        ctx.addIssue({
          code: 'custom',
          path: ['secretAccessKey'],
          message: 'required when accessKeyId is given',
        });
      }
      if (has(provider.secretAccessKey) && !has(provider.accessKeyId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['accessKeyId'],
          message: 'required when secretAccessKey is given',
        });
      }
      if (has(provider.sessionToken) && !has(provider.accessKeyId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sessionToken'],
          message: 'needs accessKeyId and secretAccessKey alongside it',
        });
      }
      if (has(provider.apiKey) && (has(provider.accessKeyId) || has(provider.secretAccessKey))) {
        ctx.addIssue({
          code: 'custom',
          path: ['apiKey'],
          message: 'give either apiKey or accessKeyId/secretAccessKey, not both',
        });
      }
    },
    { when: () => true },
  );

const vertexProviderSchema = z.strictObject({
  // The region is the Vertex location ("europe-west4", or "global").
  ...providerShape('vertex', true),
  project: nonEmpty(),
  /** Relative to the config file's folder; absent: GOOGLE_APPLICATION_CREDENTIALS at runtime. */
  serviceAccountFile: nonEmpty().optional(),
});

const geminiProviderSchema = z.strictObject({
  ...providerShape('gemini', false),
  apiKey: requiredSecret(),
});

const anthropicProviderSchema = z.strictObject({
  ...providerShape('anthropic', false),
  apiKey: requiredSecret(),
  anthropicVersion: nonEmpty().default('2023-06-01'),
});

const openaiCompatibleProviderSchema = z.strictObject({
  ...providerShape('openai-compatible', false),
  /** The base URL including `/v1`. */
  endpoint: httpUrl(),
  apiKey: optionalSecret(),
});

export const providerSchema = z.discriminatedUnion('type', [
  openaiProviderSchema,
  azureOpenAIProviderSchema,
  bedrockProviderSchema,
  vertexProviderSchema,
  geminiProviderSchema,
  anthropicProviderSchema,
  openaiCompatibleProviderSchema,
]);

export const deploymentSchema = z.strictObject({
  provider: nonEmpty(),
  /** Deployment name or model id at that provider. */
  model: nonEmpty(),
  /** Lower is tried first. */
  priority: int(0).default(1),
  weight: nonNegative().default(1),
  rpm: positiveInt().optional(),
  tpm: positiveInt().optional(),
  /** USD per million tokens; overrides the built-in catalog. */
  price: priceSchema.optional(),
});

export const modelSchema = z.strictObject({
  name: nonEmpty(),
  strategy: z.enum(ROUTING_STRATEGIES).default('priority'),
  routing: routingOverrideSchema.optional(),
  hedge: z.strictObject({ afterMs: positiveInt() }).optional(),
  deployments: z.array(deploymentSchema).min(1),
});

export const teamSchema = z.strictObject({
  name: nonEmpty(),
  /** Allowed model names for every key of the team; absent means all. */
  models: z.array(nonEmpty()).optional(),
  rpm: positiveInt().optional(),
  tpm: positiveInt().optional(),
  budget: budgetSchema.optional(),
  boundary: boundarySchema.optional(),
});

export const keySchema = z.strictObject({
  name: nonEmpty(),
  key: z.preprocess(emptyToUndefined, z.string().min(8)),
  team: nonEmpty().optional(),
  /** Allowed model names; absent means all. */
  models: z.array(nonEmpty()).optional(),
  rpm: positiveInt().optional(),
  tpm: positiveInt().optional(),
  budget: budgetSchema.optional(),
  boundary: boundarySchema.optional(),
  /** The key is refused from this time on. */
  expiresAt: isoTime().optional(),
});

const storageSchema = z
  .string()
  .regex(/^(memory|sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    error: 'expected memory, sqlite:<path> or postgres://user@host:5432/db',
  })
  .default('sqlite:./data/switchyard.db');

/** The request log: one record per request, written in batches off the request path. */
export const loggingSchema = z.strictObject({
  /** Keep prompt and completion bodies in the request log (off: only metadata is kept). */
  bodies: bool().default(false),
  /** Records older than this are deleted by a periodic job. */
  retentionDays: positiveInt().default(30),
  /** Records waiting to be written; beyond it new records are dropped and counted. */
  queueSize: positiveInt().default(10_000),
  /** A batch is written when it has this many records ... */
  batchSize: positiveInt().default(500),
  /**
   * ... or when its oldest record has waited this long. Short on purpose: a record held past a few
   * young-generation collections is promoted, and promoted garbage at the request rate showed as
   * tens of percent more gateway CPU per request.
   */
  flushMs: positiveInt().default(50),
});

export const telemetrySchema = z.strictObject({
  /** OTLP/HTTP collector base URL (traces go to `{otlpEndpoint}/v1/traces`); absent: tracing off. */
  otlpEndpoint: httpUrl().optional(),
  serviceName: nonEmpty().default('switchyard'),
  /** Extra headers for the collector (values may be credentials: never echoed). */
  headers: z.record(z.string(), z.string()).optional(),
});

export const alertsSchema = z.strictObject({
  /** Budget alerts (50/80/100%) are POSTed here as JSON, retried, never blocking requests. */
  webhook: httpUrl().optional(),
});

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  /** `sqlite:` paths come out absolute (resolved against the config file's folder). */
  storage: storageSchema,
  redis: z
    .string()
    .regex(/^rediss?:\/\/.+/, { error: 'expected redis://host:port or rediss://host:port' })
    .optional(),
  /** Bearer for `/admin/*`; absent: the admin API refuses every request. */
  adminKey: optionalSecret(),
  logging: loggingSchema.prefault({}),
  telemetry: telemetrySchema.prefault({}),
  alerts: alertsSchema.prefault({}),
  routing: routingSchema.prefault({}),
  providers: z.array(providerSchema).min(1),
  models: z.array(modelSchema).min(1),
  teams: z.array(teamSchema).default([]),
  keys: z.array(keySchema).default([]),
});

export type ServerConfig = z.output<typeof serverSchema>;
export type ImageFetchConfig = z.output<typeof imageFetchSchema>;
export type RoutingSettings = z.output<typeof routingSchema>;
export type RoutingOverride = z.output<typeof routingOverrideSchema>;
export type ProviderType = (typeof PROVIDER_TYPES)[number];
export type ProviderConfig = z.output<typeof providerSchema>;
/** The configuration of one provider type: `ProviderConfigOf<'bedrock'>`. */
export type ProviderConfigOf<T extends ProviderType> = Extract<ProviderConfig, { type: T }>;
export type OpenAIProviderConfig = z.output<typeof openaiProviderSchema>;
export type AzureOpenAIProviderConfig = z.output<typeof azureOpenAIProviderSchema>;
export type AzureEntraConfig = z.output<typeof azureEntraSchema>;
export type BedrockProviderConfig = z.output<typeof bedrockProviderSchema>;
export type VertexProviderConfig = z.output<typeof vertexProviderSchema>;
export type GeminiProviderConfig = z.output<typeof geminiProviderSchema>;
export type AnthropicProviderConfig = z.output<typeof anthropicProviderSchema>;
export type OpenAICompatibleProviderConfig = z.output<typeof openaiCompatibleProviderSchema>;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];
export type ModelConfig = z.output<typeof modelSchema>;
export type DeploymentConfig = z.output<typeof deploymentSchema>;
export type PriceConfig = z.output<typeof priceSchema>;
export type TeamConfig = z.output<typeof teamSchema>;
export type KeyConfig = z.output<typeof keySchema>;
export type BudgetConfig = z.output<typeof budgetSchema>;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export type BoundaryConfig = z.output<typeof boundarySchema>;
/** What the file says, with defaults applied. */
export type ConfigDocument = z.output<typeof configSchema>;
/** The loaded configuration: the document plus where it came from. */
export type Config = ConfigDocument & {
  /** Absolute folder of the configuration file; relative paths in it were resolved against this. */
  configDir: string;
};

/** The effective routing settings of a model: its `routing:` override on top of the global ones. */
export function resolveModelRouting(defaults: RoutingSettings, override?: RoutingOverride): RoutingSettings {
  return {
    timeouts: { ...defaults.timeouts, ...stripUndefined(override?.timeouts) },
    retry: { ...defaults.retry, ...stripUndefined(override?.retry) },
    circuitBreaker: { ...defaults.circuitBreaker, ...stripUndefined(override?.circuitBreaker) },
  };
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
export type LoggingConfig = z.output<typeof loggingSchema>;
export type TelemetryConfig = z.output<typeof telemetrySchema>;
export type AlertsConfig = z.output<typeof alertsSchema>;
export type CommitmentConfig = z.output<typeof commitmentSchema>;

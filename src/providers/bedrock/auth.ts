/**
 * Bedrock authentication: SigV4 (service `bedrock`, the provider's region) signed by smithy's
 * `SignatureV4`, or a Bedrock API key sent as `Authorization: Bearer`. No crypto is hand-rolled here;
 * the body's SHA-256 is computed with node:crypto and handed to the signer as `x-amz-content-sha256`
 * (smithy uses that header as the payload hash instead of hashing megabytes of images in JS).
 */

import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type BedrockCredentials =
  | { kind: 'bearer'; apiKey: string }
  | { kind: 'sigv4'; credentials: AwsCredentials };

/** The credential fields of a bedrock provider's configuration. */
export interface BedrockCredentialConfig {
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
  apiKey?: string | undefined;
}

const given = (value: string | undefined): value is string => value !== undefined && value !== '';

/**
 * Which credential signs a call, looked up at call time so rotated environment credentials are
 * picked up: the configured API key, then configured keys, then `AWS_ACCESS_KEY_ID` /
 * `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, then `AWS_BEARER_TOKEN_BEDROCK` (the variable the
 * AWS SDKs read Bedrock API keys from). Empty strings count as absent (`${AWS_SESSION_TOKEN:-}`).
 */
export function resolveCredentials(
  config: BedrockCredentialConfig,
  env: NodeJS.ProcessEnv,
): BedrockCredentials | undefined {
  if (given(config.apiKey)) return { kind: 'bearer', apiKey: config.apiKey };
  if (given(config.accessKeyId) && given(config.secretAccessKey)) {
    return {
      kind: 'sigv4',
      credentials: {
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
        ...(given(config.sessionToken) ? { sessionToken: config.sessionToken } : {}),
      },
    };
  }
  const envKey = env.AWS_ACCESS_KEY_ID;
  const envSecret = env.AWS_SECRET_ACCESS_KEY;
  if (given(envKey) && given(envSecret)) {
    const token = env.AWS_SESSION_TOKEN;
    return {
      kind: 'sigv4',
      credentials: {
        accessKeyId: envKey,
        secretAccessKey: envSecret,
        ...(given(token) ? { sessionToken: token } : {}),
      },
    };
  }
  if (given(env.AWS_BEARER_TOKEN_BEDROCK)) return { kind: 'bearer', apiKey: env.AWS_BEARER_TOKEN_BEDROCK };
  return undefined;
}

export interface RequestToSign {
  url: URL;
  /** Headers to send and sign (lower-case names); `host` is added from the URL. */
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Signs POST requests for one region. The smithy signer is kept while the credentials stay the same:
 * it caches the derived signing key per day, so a busy provider derives it once a day.
 */
export class BedrockSigner {
  readonly #region: string;
  #cached: { identity: string; signer: SignatureV4 } | undefined;

  constructor(region: string) {
    this.#region = region;
  }

  #signerFor(credentials: AwsCredentials): SignatureV4 {
    const identity = `${credentials.accessKeyId}\n${credentials.secretAccessKey}\n${credentials.sessionToken ?? ''}`;
    if (this.#cached?.identity !== identity) {
      const signer = new SignatureV4({
        service: 'bedrock',
        region: this.#region,
        sha256: Sha256,
        credentials: { ...credentials },
        // Double-encode the path in the canonical URI: `%3A` in a model id is signed as `%253A`.
        uriEscapePath: true,
      });
      this.#cached = { identity, signer };
    }
    return this.#cached.signer;
  }

  /** The headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, x-amz-security-token, authorization. */
  async sign(
    request: RequestToSign,
    credentials: AwsCredentials,
    signingDate: Date = new Date(),
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      ...request.headers,
      host: request.url.host,
      'x-amz-content-sha256': sha256Hex(request.body),
    };
    const signed = await this.#signerFor(credentials).sign(
      {
        method: 'POST',
        protocol: request.url.protocol,
        hostname: request.url.hostname,
        ...(request.url.port ? { port: Number(request.url.port) } : {}),
        path: request.url.pathname,
        query: {},
        headers,
        body: request.body,
      },
      { signingDate },
    );
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) out[name.toLowerCase()] = value;
    return out;
  }
}

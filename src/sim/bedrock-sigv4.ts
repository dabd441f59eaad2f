/**
 * How the simulated Bedrock checks who is calling (AWS Bedrock API reference: SigV4 signing details): a Bedrock API key as Bearer, or a
 * SigV4 signature recomputed the way the service does it, from the request's own `SignedHeaders`
 * list, raw path (canonical URI double-encoded by smithy's signer), body bytes and the known secret.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Exchange } from './server.ts';

export interface AuthFailure {
  status: number;
  /** The exception name sent in `x-amzn-ErrorType`. */
  errorType: string;
  message: string;
}

export interface BedrockAuthOptions {
  /** Accepted Bedrock API keys; empty accepts any non-empty key. */
  apiKeys: readonly string[];
  /** The credentials whose signatures are accepted; absent accepts any well-formed signature. */
  aws?: { accessKeyId: string; secretAccessKey: string } | undefined;
  region: string;
}

/** AWS allows about five minutes of clock skew. */
const MAX_SKEW_MS = 5 * 60_000;
const AUTH_HEADER =
  /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/i;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const invalidSignature = (message: string): AuthFailure => ({
  status: 403,
  errorType: 'InvalidSignatureException',
  message,
});
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function headerValue(ex: Exchange, name: string): string | undefined {
  const value = ex.req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Undefined when the caller may proceed, otherwise the native 403 to send. */
export async function authenticateBedrock(
  ex: Exchange,
  options: BedrockAuthOptions,
  now = Date.now(),
): Promise<AuthFailure | undefined> {
  const authorization = headerValue(ex, 'authorization') ?? '';
  if (authorization === '')
    return {
      status: 403,
      errorType: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer) {
    const key = bearer[1] ?? '';
    if (options.apiKeys.length === 0 || options.apiKeys.includes(key)) return undefined;
    return {
      status: 403,
      errorType: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const parsed = AUTH_HEADER.exec(authorization);
  if (!parsed) {
    return {
      status: 403,
      errorType: 'IncompleteSignatureException',
      message: `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`,
    };
  }
  const [accessKeyId, day, region, service, terminator] = (parsed[1] ?? '').split('/');
  const signedHeaders = (parsed[2] ?? '').toLowerCase().split(';');
  const signature = (parsed[3] ?? '').toLowerCase();
  if (service !== 'bedrock')
    return invalidSignature(`Credential should be scoped to correct service: 'bedrock'.`);
  if (region !== options.region) return invalidSignature(`Credential should be scoped to a valid region.`);
  if (terminator !== 'aws4_request')
    return invalidSignature(`Credential should be scoped with a valid terminator: 'aws4_request'.`);
  if (options.aws && accessKeyId !== options.aws.accessKeyId) {
    return {
      status: 403,
      errorType: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const amzDate = headerValue(ex, 'x-amz-date') ?? '';
  const date = AMZ_DATE.exec(amzDate);
  if (!date || !signedHeaders.includes('x-amz-date') || !signedHeaders.includes('host')) {
    return invalidSignature(`'Host' and 'X-Amz-Date' must be present and signed.`);
  }
  const signedAt = Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!);
  if (amzDate.slice(0, 8) !== day)
    return invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day}' != '${amzDate.slice(0, 8)}'`,
    );
  if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    return invalidSignature(
      `Signature expired: ${amzDate} is now earlier or later than the allowed 5 minutes of skew.`,
    );
  }
  const body = ex.rawBody ?? Buffer.alloc(0);
  const claimedHash = headerValue(ex, 'x-amz-content-sha256');
  if (claimedHash !== undefined && claimedHash !== createHash('sha256').update(body).digest('hex')) {
    return invalidSignature('The provided x-amz-content-sha256 header does not match what was computed.');
  }
  if (!options.aws) return undefined;

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(ex, name);
    if (value === undefined)
      return invalidSignature(`The signed header ${name} is missing from the request.`);
    headers[name] = value;
  }
  const sessionToken = headerValue(ex, 'x-amz-security-token');
  const signer = new SignatureV4({
    service: 'bedrock',
    region: options.region,
    sha256: Sha256,
    credentials: {
      accessKeyId: options.aws.accessKeyId,
      secretAccessKey: options.aws.secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: ex.method,
      protocol: 'http:',
      hostname: (headers.host ?? '').replace(/:\d+$/, ''),
      path: ex.path,
      query: Object.fromEntries(ex.query),
      headers,
      body,
    },
    { signingDate: new Date(signedAt) },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(signed.headers.authorization ?? '')?.[1] ?? '';
  const match =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  return match ? undefined : invalidSignature(MISMATCH);
}

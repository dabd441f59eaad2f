import { readFile } from 'node:fs/promises';
import { importPKCS8, SignJWT } from 'jose';
import { request } from 'undici';
import { asNumber, asObject, asString, tryParseJson } from '../../core/json.ts';
import { type AccessToken, createTokenCache } from '../token-cache.ts';

/**
 * OAuth2 access tokens for Vertex from a service-account key file (Gemini API and Vertex AI reference: Vertex AI): a JWT assertion
 * signed here with `jose` (RS256) and exchanged at the key file's `token_uri`. google-auth-library
 * is not used because it posts to oauth2.googleapis.com whatever `token_uri` says (src/sim/README.md), and
 * private token endpoints (and the tests' simulated one) need `token_uri` honoured.
 *
 * Error messages name the file and what is wrong with it, never the key or a token.
 */

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ASSERTION_LIFETIME_SECONDS = 3600;
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

export interface ServiceAccount {
  clientEmail: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  privateKeyId?: string;
  tokenUri: string;
}

/** Parses a service-account key file's JSON; `source` names the file in errors. */
export function parseServiceAccount(text: string, source: string): ServiceAccount {
  const json = asObject(tryParseJson(text));
  if (!json) throw new Error(`${source} is not a JSON service-account key file`);
  if (json.type !== undefined && json.type !== 'service_account') {
    throw new Error(`${source} holds credentials of type "${String(json.type)}", expected "service_account"`);
  }
  const clientEmail = asString(json.client_email);
  const privateKey = asString(json.private_key);
  if (!clientEmail) throw new Error(`${source} has no client_email`);
  if (!privateKey) throw new Error(`${source} has no private_key`);
  const account: ServiceAccount = {
    clientEmail,
    privateKey,
    tokenUri: asString(json.token_uri) ?? DEFAULT_TOKEN_URI,
  };
  const keyId = asString(json.private_key_id);
  if (keyId) account.privateKeyId = keyId;
  return account;
}

export async function readServiceAccount(path: string): Promise<ServiceAccount> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'read error';
    throw new Error(`the service-account file ${path} could not be read (${code})`);
  }
  return parseServiceAccount(text, `the service-account file ${path}`);
}

/** The signed JWT-bearer assertion: iss/sub = client_email, aud = token_uri, one hour. */
export async function signAssertion(account: ServiceAccount, nowSeconds: number): Promise<string> {
  let key: Awaited<ReturnType<typeof importPKCS8>>;
  try {
    key = await importPKCS8(account.privateKey, 'RS256');
  } catch {
    throw new Error(`the private_key of ${account.clientEmail} is not a PKCS#8 RSA key`);
  }
  return new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
    .setProtectedHeader({
      alg: 'RS256',
      typ: 'JWT',
      ...(account.privateKeyId ? { kid: account.privateKeyId } : {}),
    })
    .setIssuer(account.clientEmail)
    .setSubject(account.clientEmail)
    .setAudience(account.tokenUri)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + ASSERTION_LIFETIME_SECONDS)
    .sign(key);
}

/** One token exchange at `token_uri`. */
export async function fetchServiceAccountToken(
  account: ServiceAccount,
  now = Date.now,
): Promise<AccessToken> {
  const issuedAt = now();
  const assertion = await signAssertion(account, Math.floor(issuedAt / 1000));
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(account.tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
      headersTimeout: TOKEN_REQUEST_TIMEOUT_MS,
      bodyTimeout: TOKEN_REQUEST_TIMEOUT_MS,
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'network error';
    throw new Error(`the token endpoint ${account.tokenUri} could not be reached (${code})`);
  }
  const body = asObject(tryParseJson(await response.body.text()));
  const token = asString(body?.access_token);
  if (response.statusCode !== 200 || !token) {
    // OAuth errors are a code and a short description; neither echoes the assertion.
    const error = asString(body?.error) ?? `HTTP ${response.statusCode}`;
    const description = asString(body?.error_description);
    throw new Error(
      `the token endpoint ${account.tokenUri} refused ${account.clientEmail}: ${error}${description ? ` (${description.slice(0, 200)})` : ''}`,
    );
  }
  const expiresIn = asNumber(body?.expires_in) ?? Number(body?.expires_in ?? 3600);
  return { token, expiresAtMs: issuedAt + (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000 };
}

/**
 * Cached bearer tokens for one key file, refreshed before expiry, one refresh at a time. The file is
 * read again at each refresh, so a rotated key is picked up without a restart.
 */
export function createServiceAccountTokenSource(path: string): () => Promise<string> {
  return createTokenCache(async () => fetchServiceAccountToken(await readServiceAccount(path)));
}

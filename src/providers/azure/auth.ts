import { request } from 'undici';
import { asNumber, asObject, asString, tryParseJson } from '../../core/json.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import { type AccessToken, createTokenCache } from '../token-cache.ts';

export interface EntraClientCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  scope: string;
}

/** Microsoft Entra ID client-credentials grant: POST {authority}/{tenant}/oauth2/v2.0/token. */
export async function fetchEntraToken(credentials: EntraClientCredentials): Promise<AccessToken> {
  const url = `${trimTrailingSlashes(credentials.authorityHost)}/${encodeURIComponent(credentials.tenantId)}/oauth2/v2.0/token`;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: credentials.clientId,
    client_secret: credentials.clientSecret,
    scope: credentials.scope,
  });
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const body = asObject(tryParseJson(await response.body.text()));
  const token = asString(body?.access_token);
  if (response.statusCode !== 200 || !token) {
    // The identity provider's error code only: its description may quote the request.
    const code = asString(body?.error) ?? `status ${response.statusCode}`;
    throw new Error(`Entra ID token request failed: ${code}`);
  }
  const expiresIn = asNumber(body?.expires_in) ?? Number(body?.expires_in ?? 3600);
  return { token, expiresAtMs: Date.now() + (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000 };
}

export function createEntraTokenSource(credentials: EntraClientCredentials): () => Promise<string> {
  return createTokenCache(() => fetchEntraToken(credentials));
}

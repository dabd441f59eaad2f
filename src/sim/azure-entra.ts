/**
 * A tiny Microsoft Entra ID token endpoint for the Azure sim:
 * `POST /{tenantId}/oauth2/v2.0/token` with the client-credentials grant, answering
 * `{token_type, expires_in, ext_expires_in, access_token}` or an AAD-style error
 * (`error`, `error_description` starting with the AADSTS code, `error_codes`, ids, timestamp).
 * Tokens look like JWTs (so clients that peek at `exp` work) but are only valid on this sim.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { sendJson } from './http.ts';
import type { Exchange } from './server.ts';

export interface EntraConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

const TOKEN_TTL_SECONDS = 3599;
const AUDIENCES = ['https://cognitiveservices.azure.com', 'https://ai.azure.com'];

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export class EntraIssuer {
  #config: EntraConfig;
  /** Issued token → expiry (ms since epoch). */
  #tokens = new Map<string, number>();

  constructor(config: EntraConfig) {
    this.#config = config;
  }

  /** True for an unexpired token this sim issued. */
  verify(token: string): boolean {
    const expires = this.#tokens.get(token);
    return expires !== undefined && expires > Date.now();
  }

  handle(ex: Exchange, tenant: string) {
    const fail = (status: number, error: string, code: number, description: string) => {
      const now = new Date();
      const trace = randomUUID();
      const correlation = randomUUID();
      sendJson(ex.res, status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${now.toISOString().replace('T', ' ').slice(0, 19)}Z`,
        error_codes: [code],
        timestamp: `${now.toISOString().replace('T', ' ').slice(0, 19)}Z`,
        trace_id: trace,
        correlation_id: correlation,
        error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      });
    };
    const missing = (name: string) =>
      fail(
        400,
        'invalid_request',
        900144,
        `The request body must contain the following parameter: '${name}'.`,
      );

    const cfg = this.#config;
    if (tenant !== cfg.tenantId) {
      return fail(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const form = typeof ex.body === 'object' && ex.body !== null ? (ex.body as Record<string, unknown>) : {};
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    const grant = field('grant_type');
    if (grant === undefined) return missing('grant_type');
    if (grant !== 'client_credentials') {
      return fail(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    }
    const clientId = field('client_id');
    if (clientId === undefined) return missing('client_id');
    if (clientId !== cfg.clientId) {
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      );
    }
    const secret = field('client_secret');
    if (secret === undefined) return missing('client_secret');
    if (secret !== cfg.clientSecret) {
      return fail(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    const scope = field('scope');
    if (scope === undefined) return missing('scope');
    if (!scope.endsWith('/.default')) {
      return fail(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const audience = scope.slice(0, -'/.default'.length);
    if (!AUDIENCES.includes(audience)) {
      return fail(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${audience} was not found in the tenant named ${tenant}.`,
      );
    }

    const now = Math.floor(Date.now() / 1000);
    const payload = {
      aud: audience,
      iss: `https://sts.windows.net/${tenant}/`,
      iat: now,
      nbf: now,
      exp: now + TOKEN_TTL_SECONDS,
      appid: clientId,
      tid: tenant,
      sub: clientId,
    };
    const token = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'sim' })}.${b64url(payload)}.${randomBytes(32).toString('base64url')}`;
    for (const [issued, expires] of this.#tokens) if (expires <= Date.now()) this.#tokens.delete(issued);
    this.#tokens.set(token, (now + TOKEN_TTL_SECONDS) * 1000);
    sendJson(ex.res, 200, {
      token_type: 'Bearer',
      expires_in: TOKEN_TTL_SECONDS,
      ext_expires_in: TOKEN_TTL_SECONDS,
      access_token: token,
    });
  }
}

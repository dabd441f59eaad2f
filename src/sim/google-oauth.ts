/**
 * A Google OAuth2 token endpoint for the simulated Vertex AI (Gemini API and Vertex AI reference: Vertex AI): `POST /token` with the
 * JWT-bearer grant, as `oauth2.googleapis.com/token` does it. The assertion's RS256 signature is
 * verified with the configured service account's public key, then iss (the client email), aud
 * (this endpoint's own URL, or Google's canonical `https://oauth2.googleapis.com/token` that
 * google-auth-library always signs for), scope, and a lifetime of at most an hour. Answers
 * `{access_token, expires_in, token_type: "Bearer"}` or Google's `{error, error_description}`.
 * Without a configured service account any well-formed assertion is accepted.
 */

import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';
import { sendJson } from './http.ts';
import type { Exchange } from './server.ts';

export interface ServiceAccountConfig {
  clientEmail: string;
  publicKeyPem: string;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GOOGLE_AUDIENCE = 'https://oauth2.googleapis.com/token';
const TOKEN_TTL_SECONDS = 3599;
const MAX_ASSERTION_SECONDS = 3600;
/** Clock skew Google tolerates on iat/exp. */
const SKEW_SECONDS = 300;
const TIMEFRAME =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';

export class GoogleTokenIssuer {
  readonly #account: ServiceAccountConfig | undefined;
  readonly #publicKey: KeyObject | undefined;
  /** Issued token → expiry (ms since epoch). */
  readonly #tokens = new Map<string, number>();

  constructor(account: ServiceAccountConfig | undefined) {
    this.#account = account;
    this.#publicKey = account ? createPublicKey(account.publicKeyPem) : undefined;
  }

  /** True for an unexpired token this endpoint issued. */
  verify(token: string): boolean {
    const expires = this.#tokens.get(token);
    return expires !== undefined && expires > Date.now();
  }

  async handle(ex: Exchange): Promise<void> {
    const fail = (status: number, error: string, description: string) =>
      sendJson(ex.res, status, { error, error_description: description });
    const form = typeof ex.body === 'object' && ex.body !== null ? (ex.body as Record<string, unknown>) : {};
    const grant = form.grant_type;
    if (typeof grant !== 'string' || grant === '')
      return fail(400, 'unsupported_grant_type', 'Invalid grant_type: ');
    if (grant !== GRANT) return fail(400, 'unsupported_grant_type', `Invalid grant_type: ${grant}`);
    const assertion = form.assertion;
    if (typeof assertion !== 'string' || assertion === '') {
      return fail(400, 'invalid_request', 'Missing required parameter: assertion');
    }

    let claims: JWTPayload;
    try {
      claims = this.#publicKey
        ? (
            await jwtVerify(assertion, this.#publicKey, {
              algorithms: ['RS256'],
              clockTolerance: SKEW_SECONDS,
            })
          ).payload
        : decodeJwt(assertion);
    } catch (err) {
      if (err instanceof errors.JWTExpired || err instanceof errors.JWTClaimValidationFailed) {
        return fail(400, 'invalid_grant', TIMEFRAME);
      }
      return fail(400, 'invalid_grant', 'Invalid JWT Signature.');
    }

    if (this.#account && claims.iss !== this.#account.clientEmail) {
      return fail(400, 'invalid_grant', 'Invalid grant: account not found');
    }
    const ownUrl = `http://${ex.req.headers.host ?? ''}/token`;
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.some((a) => a === ownUrl || a === GOOGLE_AUDIENCE)) {
      return fail(
        400,
        'invalid_grant',
        `Invalid JWT: Failed audience check. The right audience is ${ownUrl}`,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp - iat > MAX_ASSERTION_SECONDS ||
      iat > now + SKEW_SECONDS ||
      exp < now - SKEW_SECONDS
    ) {
      return fail(400, 'invalid_grant', TIMEFRAME);
    }
    if (typeof claims.scope !== 'string' || claims.scope.trim() === '') {
      return fail(400, 'invalid_scope', 'Empty or missing scope not allowed.');
    }

    const token = `ya29.sim-${randomBytes(24).toString('base64url')}`;
    for (const [issued, expires] of this.#tokens) if (expires <= Date.now()) this.#tokens.delete(issued);
    this.#tokens.set(token, (now + TOKEN_TTL_SECONDS) * 1000);
    sendJson(ex.res, 200, { access_token: token, expires_in: TOKEN_TTL_SECONDS, token_type: 'Bearer' });
  }
}

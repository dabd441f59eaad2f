/**
 * The control plane over HTTP: `/admin/*` (admin key on every route) and `/metrics`. JSON in and
 * out; lists come as `{"data": [...]}`.
 */
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../core/errors.ts';
import { parseIsoTime } from '../core/time.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { hashKey } from '../identity/keys.ts';
import { commitmentStatus } from '../limits/commitments.ts';
import { parseJsonBody, readBody } from '../server/body.ts';
import type { Exchange } from '../server/exchange.ts';
import { sendJson } from '../server/exchange.ts';
import { StoreUnavailableError, type UsageGroupBy } from '../state/types.ts';
import { USAGE_GROUPS, usageToCsv } from '../state/usage.ts';
import { createKey, getKey, listKeys, patchKey, revokeKey } from './keys.ts';
import { deploymentsView, teamsView } from './views.ts';

type Handler = (rt: Runtime, ex: Exchange) => Promise<void> | void;

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer realm="switchyard-admin"' };

/**
 * The admin key, compared in constant time on SHA-256 digests (equal length whatever was sent).
 * No key configured: every request is refused.
 */
export function requireAdmin(rt: Runtime, ex: Exchange): void {
  if (rt.adminKeyHash === undefined) {
    throw new GatewayError('admin_disabled', 'the admin API is disabled: no adminKey is configured');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ex.req.headers.authorization ?? '');
  const presented = Buffer.from(hashKey(match?.[1] ?? ''), 'hex');
  const expected = Buffer.from(rt.adminKeyHash, 'hex');
  if (!match || !timingSafeEqual(presented, expected)) {
    throw new GatewayError('invalid_api_key', 'the admin API needs "Authorization: Bearer <adminKey>"', {
      headers: UNAUTHORIZED_HEADERS,
    });
  }
}

/**
 * Admin routes read and write the store: when it is unreachable the operator gets a 503 that says
 * so and names the store (its message never holds credentials), not a bare 500.
 */
const admin =
  (handler: Handler): Handler =>
  async (rt, ex) => {
    requireAdmin(rt, ex);
    try {
      await handler(rt, ex);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      throw new GatewayError('shared_state_unavailable', `the store is unavailable: ${err.message}`, {
        retryAfterMs: 1000,
      });
    }
  };

async function jsonBody(rt: Runtime, ex: Exchange): Promise<unknown> {
  return parseJsonBody(await readBody(ex.req, rt.config.server.maxBodyBytes, rt.config.server.bodyTimeoutMs));
}

function query(ex: Exchange): URLSearchParams {
  const url = ex.req.url ?? '/';
  const at = url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
}

/** `from`/`to` as ISO times or dates; absent `from`: the start of this month (UTC); absent `to`: now. */
function timeParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = params.get(name);
  if (value === null) return fallback;
  const ms = parseIsoTime(value);
  if (ms === undefined) {
    throw new GatewayError('invalid_request', `${name}: expected an ISO 8601 date or time, got "${value}"`, {
      param: name,
    });
  }
  return ms;
}

/**
 * A misspelt parameter (`groupby=team`) would otherwise be ignored and the report silently
 * answered with the defaults: name it instead.
 */
function onlyParams(params: URLSearchParams, known: readonly string[]): void {
  for (const name of params.keys()) {
    if (!known.includes(name)) {
      throw new GatewayError('invalid_request', `${name}: unknown parameter (expected ${known.join(', ')})`, {
        param: name,
      });
    }
  }
}

const usage: Handler = async (rt, ex) => {
  const params = query(ex);
  onlyParams(params, ['groupBy', 'from', 'to', 'format']);
  const groupBy = (params.get('groupBy') ?? 'key') as UsageGroupBy;
  if (!USAGE_GROUPS.includes(groupBy)) {
    throw new GatewayError('invalid_request', `groupBy: expected one of ${USAGE_GROUPS.join(', ')}`, {
      param: 'groupBy',
    });
  }
  const now = new Date();
  const fromMs = timeParam(params, 'from', Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const toMs = timeParam(params, 'to', now.getTime() + 1);
  if (toMs <= fromMs) {
    throw new GatewayError(
      'invalid_request',
      `to: must be after from (${new Date(fromMs).toISOString()}; without from: the start of this month, UTC)`,
      { param: 'to' },
    );
  }
  const format = params.get('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') {
    throw new GatewayError('invalid_request', 'format: expected json or csv', { param: 'format' });
  }
  await rt.requestLog.flush();
  const rows = await rt.store.usage(groupBy, fromMs, toMs);
  if (format === 'csv') {
    const body = usageToCsv(rows);
    ex.res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    ex.res.end(body);
    return;
  }
  sendJson(ex, 200, {
    groupBy,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    rows,
  });
};

const MAX_REQUESTS_LIMIT = 1000;

const requests: Handler = async (rt, ex) => {
  const params = query(ex);
  onlyParams(params, ['limit', 'key', 'model']);
  const limitText = params.get('limit') ?? '50';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REQUESTS_LIMIT) {
    throw new GatewayError('invalid_request', `limit: expected an integer from 1 to ${MAX_REQUESTS_LIMIT}`, {
      param: 'limit',
    });
  }
  await rt.requestLog.flush();
  const key = params.get('key');
  const model = params.get('model');
  const records = await rt.store.listRequests({
    limit,
    ...(key ? { keyName: key } : {}),
    ...(model ? { model } : {}),
  });
  sendJson(ex, 200, {
    data: records.map((r) => ({ ...r, time: new Date(r.startedAtMs).toISOString() })),
  });
};

export function adminRoutes(): Record<string, Record<string, Handler>> {
  return {
    '/admin/keys': {
      GET: admin(async (rt, ex) => sendJson(ex, 200, { data: await listKeys(rt) })),
      POST: admin(async (rt, ex) => sendJson(ex, 201, await createKey(rt, await jsonBody(rt, ex)))),
    },
    '/admin/usage': { GET: admin(usage) },
    '/admin/requests': { GET: admin(requests) },
    '/admin/deployments': { GET: admin((rt, ex) => sendJson(ex, 200, { data: deploymentsView(rt) })) },
    '/admin/teams': { GET: admin(async (rt, ex) => sendJson(ex, 200, { data: await teamsView(rt) })) },
    '/admin/commitments': {
      GET: admin(async (rt, ex) => sendJson(ex, 200, { data: await commitmentStatus(rt.config, rt.limits) })),
    },
    '/metrics': {
      GET: async (rt, ex) => {
        if (rt.config.server.metricsAuth) requireAdmin(rt, ex);
        const { contentType, body } = await rt.metrics.render();
        ex.res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        ex.res.end(body);
      },
    },
  };
}

/** `/admin/keys/{id}`. */
export function adminKeyRoutes(id: string): Record<string, Handler> {
  return {
    GET: admin(async (rt, ex) => sendJson(ex, 200, await getKey(rt, id))),
    PATCH: admin(async (rt, ex) => sendJson(ex, 200, await patchKey(rt, id, await jsonBody(rt, ex)))),
    DELETE: admin(async (rt, ex) => sendJson(ex, 200, await revokeKey(rt, id))),
  };
}

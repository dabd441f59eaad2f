import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminKeyRoutes, adminRoutes } from '../admin/routes.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import { handleInference, identify } from '../gateway/lifecycle.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { partitionByBoundary } from '../governance/boundary.ts';
import { modelRefusal, type Principal } from '../identity/keys.ts';
import { parseChatBody } from '../ingress/openai/chat.ts';
import { parseEmbeddingBody } from '../ingress/openai/embeddings.ts';
import { parseJsonBody, readBody } from './body.ts';
import { chatSpec } from './chat.ts';
import { embeddingsSpec } from './embeddings.ts';
import { type Exchange, newExchange, sendError, sendJson } from './exchange.ts';

export interface Lifecycle {
  /** True once shutdown began: readiness fails so load balancers stop sending. */
  draining(): boolean;
}

type Handler = (rt: Runtime, ex: Exchange) => Promise<void> | void;

const MODEL_CREATED = Math.floor(Date.parse('2026-04-01T00:00:00Z') / 1000);

async function readJson(rt: Runtime, ex: Exchange): Promise<{ json: unknown; text: string | undefined }> {
  const raw = await readBody(ex.req, rt.config.server.maxBodyBytes, rt.config.server.bodyTimeoutMs);
  return { json: parseJsonBody(raw), text: rt.config.logging.bodies ? raw.toString('utf8') : undefined };
}

const chatCompletions: Handler = (rt, ex) =>
  handleInference(rt, ex, 'chat', async (record) => {
    const principal = await rt.identity.authenticate(ex.req.headers.authorization);
    identify(record, principal);
    const { json, text } = await readJson(rt, ex);
    return { principal, spec: chatSpec(rt, ex, parseChatBody(json), text) };
  });

const embeddings: Handler = (rt, ex) =>
  handleInference(rt, ex, 'embeddings', async (record) => {
    const principal = await rt.identity.authenticate(ex.req.headers.authorization);
    identify(record, principal);
    const { json, text } = await readJson(rt, ex);
    const request = parseEmbeddingBody(json, rt.config.server.maxEmbeddingInputs);
    return { principal, spec: embeddingsSpec(rt, ex, request, text) };
  });

function modelObject(name: string) {
  return { id: name, object: 'model', created: MODEL_CREATED, owned_by: 'switchyard' };
}

/** A model is listed when the key and its team may use it and one deployment is inside their boundary. */
function mayList(rt: Runtime, principal: Principal, name: string): boolean {
  const model = rt.models.get(name);
  if (!model || modelRefusal(principal, name)) return false;
  return partitionByBoundary(principal, model.model.deployments).allowed.length > 0;
}

const listModels: Handler = async (rt, ex) => {
  const principal = await rt.identity.authenticate(ex.req.headers.authorization);
  const data = [...rt.models.keys()].filter((name) => mayList(rt, principal, name)).map(modelObject);
  sendJson(ex, 200, { object: 'list', data });
};

function getModel(name: string): Handler {
  return async (rt, ex) => {
    const principal = await rt.identity.authenticate(ex.req.headers.authorization);
    if (!mayList(rt, principal, name)) {
      throw new GatewayError(
        'model_not_found',
        `The model \`${name}\` does not exist or you do not have access to it.`,
        {
          param: 'model',
        },
      );
    }
    sendJson(ex, 200, modelObject(name));
  };
}

type Route = Handler | GatewayError;
type RouteTable = Record<string, Record<string, Handler>>;

function methodNotAllowed(method: string, path: string, allowed: string[]): GatewayError {
  return new GatewayError(
    'method_not_allowed',
    `${method} is not allowed on ${path}; use ${allowed.join(', ')}`,
    {
      headers: { allow: allowed.join(', ') },
    },
  );
}

/** Routes by exact method and path: a handful of routes needs no router library. */
export function createRouter(
  routes: RouteTable,
  prefixes: Array<[string, (rest: string) => RouteTable[string]]>,
) {
  return (method: string, path: string): Route => {
    const byMethod = routes[path];
    if (byMethod) return byMethod[method] ?? methodNotAllowed(method, path, Object.keys(byMethod));
    for (const [prefix, resolve] of prefixes) {
      if (!path.startsWith(prefix) || path.length === prefix.length) continue;
      let rest: string;
      try {
        rest = decodeURIComponent(path.slice(prefix.length));
      } catch {
        return new GatewayError(
          'route_not_found',
          `no route for ${method} ${path} (malformed percent-encoding)`,
        );
      }
      const handlers = resolve(rest);
      return handlers[method] ?? methodNotAllowed(method, path, Object.keys(handlers));
    }
    return new GatewayError('route_not_found', `no route for ${method} ${path}`);
  };
}

export function dataPlaneRoutes(lifecycle: Lifecycle): RouteTable {
  return {
    '/v1/chat/completions': { POST: chatCompletions },
    '/v1/embeddings': { POST: embeddings },
    '/v1/models': { GET: listModels },
    '/healthz': { GET: (_rt, ex) => sendJson(ex, 200, { status: 'ok' }) },
    '/readyz': {
      GET: (_rt, ex) =>
        lifecycle.draining()
          ? sendJson(ex, 503, { status: 'draining' })
          : sendJson(ex, 200, { status: 'ready' }),
    },
  };
}

export function createRequestHandler(rt: Runtime, lifecycle: Lifecycle) {
  const route = createRouter({ ...dataPlaneRoutes(lifecycle), ...adminRoutes() }, [
    ['/v1/models/', (name) => ({ GET: getModel(name) })],
    ['/admin/keys/', adminKeyRoutes],
  ]);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const ex = newExchange(req, res);
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const handler = route(req.method ?? 'GET', path);
    // While draining, keep-alive clients are asked to reconnect (behind a load balancer: elsewhere).
    if (lifecycle.draining()) res.setHeader('connection', 'close');
    if (handler instanceof GatewayError) {
      sendError(ex, handler);
      return;
    }
    Promise.resolve()
      .then(() => handler(rt, ex))
      .catch((err: unknown) => {
        const error = toGatewayError(err);
        if (error.code === 'internal_error') rt.log.error('request_failed', { id: ex.id, error: err });
        sendError(ex, error);
      });
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { mayUseModel, type Principal } from '../identity/keys.ts';
import { parseChatBody } from '../ingress/openai/chat.ts';
import { parseEmbeddingBody } from '../ingress/openai/embeddings.ts';
import { parseJsonBody, readBody } from './body.ts';
import { serveChat } from './chat.ts';
import { serveEmbeddings } from './embeddings.ts';
import { type Exchange, newExchange, sendError, sendJson } from './exchange.ts';

export interface Lifecycle {
  /** True once shutdown began: readiness fails so load balancers stop sending. */
  draining(): boolean;
}

type Handler = (rt: Runtime, ex: Exchange) => Promise<void> | void;

const MODEL_CREATED = Math.floor(Date.parse('2026-04-01T00:00:00Z') / 1000);

async function authenticated(rt: Runtime, ex: Exchange): Promise<Principal> {
  return rt.keys.authenticate(ex.req.headers.authorization);
}

async function readJson(rt: Runtime, ex: Exchange): Promise<unknown> {
  return parseJsonBody(await readBody(ex.req, rt.config.server.maxBodyBytes));
}

const chatCompletions: Handler = async (rt, ex) => {
  const principal = await authenticated(rt, ex);
  const request = parseChatBody(await readJson(rt, ex));
  await serveChat(rt, ex, principal, request);
};

const embeddings: Handler = async (rt, ex) => {
  const principal = await authenticated(rt, ex);
  const request = parseEmbeddingBody(await readJson(rt, ex));
  await serveEmbeddings(rt, ex, principal, request);
};

function modelObject(name: string) {
  return { id: name, object: 'model', created: MODEL_CREATED, owned_by: 'switchyard' };
}

const listModels: Handler = async (rt, ex) => {
  const principal = await authenticated(rt, ex);
  const data = [...rt.models.keys()].filter((name) => mayUseModel(principal, name)).map(modelObject);
  sendJson(ex, 200, { object: 'list', data });
};

function getModel(name: string): Handler {
  return async (rt, ex) => {
    const principal = await authenticated(rt, ex);
    if (!rt.models.has(name) || !mayUseModel(principal, name)) {
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

/** Routes by exact method and path: a handful of routes needs no router library. */
function createRouter(lifecycle: Lifecycle): (method: string, path: string) => Route {
  const routes: Record<string, Record<string, Handler>> = {
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
  return (method, path) => {
    const byMethod = routes[path];
    if (byMethod) {
      const handler = byMethod[method];
      if (handler) return handler;
      return new GatewayError(
        'method_not_allowed',
        `${method} is not allowed on ${path}; use ${Object.keys(byMethod).join(', ')}`,
      );
    }
    if (path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) {
      if (method !== 'GET')
        return new GatewayError('method_not_allowed', `${method} is not allowed on ${path}; use GET`);
      try {
        return getModel(decodeURIComponent(path.slice('/v1/models/'.length)));
      } catch {
        return new GatewayError(
          'route_not_found',
          `no route for ${method} ${path} (malformed percent-encoding)`,
        );
      }
    }
    return new GatewayError('route_not_found', `no route for ${method} ${path}`);
  };
}

export function createRequestHandler(rt: Runtime, lifecycle: Lifecycle) {
  const route = createRouter(lifecycle);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const ex = newExchange(req, res);
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const handler = route(req.method ?? 'GET', path);
    if (lifecycle.draining()) res.setHeader('connection', 'close');
    if (handler instanceof GatewayError) {
      sendError(ex, handler);
      return;
    }
    Promise.resolve()
      .then(() => handler(rt, ex))
      .catch((err: unknown) => {
        const error = toGatewayError(err);
        if (error.code === 'internal_error') process.emitWarning(`request ${ex.id} failed: ${String(err)}`);
        sendError(ex, error);
      });
  };
}

/**
 * Simulated OpenAI: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models[/{id}]` with Bearer
 * auth, OpenAI's error envelope, `x-request-id` and `x-ratelimit-*` headers. The router is shared
 * with the OpenAI-compatible (vLLM-like) sim, which only swaps the flavour and the edges.
 */

import { randomUUID } from 'node:crypto';
import { type Headers, sendJson } from './http.ts';
import { type ChatContext, chatCompletion } from './openai-chat.ts';
import { embeddings } from './openai-embeddings.ts';
import {
  type NativeError,
  type OpenAIFlavour,
  type Operation,
  openaiErrorBody,
  openaiFlavour,
} from './openai-flavour.ts';
import type { Admission, RateSnapshot } from './rate-limit.ts';
import { openaiRateLimitHeaders } from './rate-limit-headers.ts';
import { type Exchange, type ProtocolHandler, type SimRuntime, settleFault } from './server.ts';

export interface OpenAIRouterOptions {
  flavour: OpenAIFlavour;
  label: string;
  /** Served model ids; empty accepts any model. */
  models: string[];
  /** Checks the credentials; returns the 401 to send, or undefined when the caller may proceed. */
  authenticate(ex: Exchange): NativeError | undefined;
  /** Headers on every answer of this request. */
  headers(sim: SimRuntime): Headers;
  /** The `rateLimit` knob's window in the cloud's capacity headers; absent: the cloud sends none. */
  rateLimitHeaders?(base: Headers, snapshot: RateSnapshot | undefined): Headers;
  /** The message of the 429 a spent rate limit answers; absent: the flavour's usual one. */
  throttledMessage?(throttled: NonNullable<Admission['throttled']>, model: string): string;
  notFound(ex: Exchange): NativeError;
  modelNotFound(model: string): NativeError;
  /** The model to use when the body names none; undefined makes it a 400. */
  defaultModel?: string;
}

export interface OpenAIOptions {
  label: string;
  apiKeys: string[];
  models: string[];
}

const CREATED = 1_700_000_000;
const OPERATIONS = new Map<string, Operation>([
  ['/v1/chat/completions', 'chat'],
  ['/v1/embeddings', 'embeddings'],
]);

function send(ex: Exchange, error: NativeError, headers: Headers): void {
  sendJson(ex.res, error.status, error.body, { ...headers, ...error.headers });
}

function modelOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const model = (body as Record<string, unknown>).model;
  return typeof model === 'string' && model !== '' ? model : undefined;
}

export function createOpenAIRouter(options: OpenAIRouterOptions): ProtocolHandler {
  const { flavour } = options;
  const served = new Set(options.models);
  const listing = () => ({
    object: 'list',
    data: options.models.map((id) => ({ id, object: 'model', created: CREATED, ...flavour.modelEntry(id) })),
  });

  return async (ex, sim) => {
    const { method, path } = ex;
    const headers = options.headers(sim);
    const operation = method === 'POST' ? OPERATIONS.get(path) : undefined;
    const isModels = method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'));
    if (!operation && !isModels) return send(ex, options.notFound(ex), headers);

    const denied = options.authenticate(ex);
    if (denied) return send(ex, denied, headers);

    if (isModels) {
      if (path === '/v1/models') return sendJson(ex.res, 200, listing(), headers);
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const entry = listing().data.find((m) => m.id === id);
      return entry ? sendJson(ex.res, 200, entry, headers) : send(ex, options.modelNotFound(id), headers);
    }

    if (ex.bodyInvalid) {
      const message =
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";
      return sendJson(ex.res, 400, flavour.errorBody({ status: 400, message }), headers);
    }
    const model = modelOf(ex.body) ?? options.defaultModel;
    if (model === undefined) {
      const error = { status: 400, message: 'you must provide a model parameter', param: 'model' };
      return sendJson(ex.res, 400, flavour.errorBody(error), headers);
    }
    const op = operation ?? 'chat';
    const admission = sim.admit();
    const h = options.rateLimitHeaders?.(headers, admission.snapshot) ?? headers;
    if (admission.throttled) {
      const message = options.throttledMessage?.(admission.throttled, model);
      const throttled = {
        kind: 'status' as const,
        status: 429,
        retryAfterMs: admission.throttled.retryAfterMs,
        ...(message === undefined ? {} : { message }),
      };
      return send(ex, flavour.statusFault(throttled, model, op), h);
    }
    const fault = sim.takeFault(model);
    if (await settleFault(ex, fault, sim, (f) => send(ex, flavour.statusFault(f, model, op), h))) return;
    if (served.size > 0 && !served.has(model)) return send(ex, options.modelNotFound(model), h);

    const ctx: ChatContext = {
      flavour,
      label: options.label,
      model,
      headers: h,
      ...(fault ? { fault } : {}),
    };
    if (op === 'chat') return chatCompletion(ex, sim, ctx);
    return embeddings(ex, sim, ctx);
  };
}

/** `sk-abc…wxyz`: OpenAI shows only the ends of a rejected key. */
const maskKey = (key: string) =>
  key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(12)}${key.slice(-4)}`;

export function bearerToken(ex: Exchange): string | undefined {
  const header = ex.req.headers.authorization;
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return match ? match[1]!.trim() : undefined;
}

export function createOpenAIHandler(options: OpenAIOptions): ProtocolHandler {
  const keys = new Set(options.apiKeys);
  const unauthorized = (message: string, code: string | null): NativeError => ({
    status: 401,
    body: openaiErrorBody({ status: 401, message, type: 'invalid_request_error', param: null, code }),
  });
  return createOpenAIRouter({
    flavour: openaiFlavour,
    label: options.label,
    models: options.models,
    authenticate(ex) {
      const key = bearerToken(ex);
      if (key === undefined) {
        return unauthorized(
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
          null,
        );
      }
      // With no configured keys any key is accepted (a key is still required, as on OpenAI).
      if (keys.size > 0 && !keys.has(key)) {
        return unauthorized(
          `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_api_key',
        );
      }
      return undefined;
    },
    headers: (sim) => ({
      'x-request-id': `req_${randomUUID().replaceAll('-', '')}`,
      'openai-version': '2020-10-01',
      'openai-organization': 'org-sim',
      'openai-processing-ms': String(Math.round(sim.knobs.latencyMs)),
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-limit-tokens': '30000000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-remaining-tokens': '29999000',
      'x-ratelimit-reset-requests': '6ms',
      'x-ratelimit-reset-tokens': '2ms',
    }),
    rateLimitHeaders: (base, snapshot) => openaiRateLimitHeaders(base, snapshot, true),
    throttledMessage: (throttled, model) => {
      const per = throttled.limit === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
      const { perMinute, retryAfterMs } = throttled;
      return `Rate limit reached for ${model} in organization org-sim on ${per}: Limit ${perMinute}, Used ${perMinute}, Requested 1. Please try again in ${retryAfterMs}ms. Visit https://platform.openai.com/account/rate-limits to learn more.`;
    },
    notFound: (ex) => ({
      status: 404,
      body: openaiErrorBody({
        status: 404,
        message: `Invalid URL (${ex.method} ${ex.path})`,
        param: null,
        code: null,
      }),
    }),
    modelNotFound: (model) => ({
      status: 404,
      body: openaiErrorBody({
        status: 404,
        message: `The model \`${model}\` does not exist or you do not have access to it.`,
        param: null,
        code: 'model_not_found',
      }),
    }),
  });
}

/**
 * Simulated Gemini API and Vertex AI (Gemini API and Vertex AI reference): one content model, two front doors.
 *
 * Gemini API: `POST /{v1beta|v1}/models/{model}:{generateContent|streamGenerateContent|embedContent|batchEmbedContents}`,
 * key in `x-goog-api-key` (or `?key=`); a wrong key is Google's 400 API_KEY_INVALID, a missing one 403.
 *
 * Vertex AI: `POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:{generateContent|streamGenerateContent|predict|embedContent}`
 * with `Authorization: Bearer` tokens issued by its own `POST /token` (google-oauth.ts). Without a
 * configured service account any non-empty bearer token is accepted. A project other than
 * `google.project` is 403 PERMISSION_DENIED.
 *
 * Both: `alt=sse` streams (no `[DONE]`; without alt=sse a JSON array), Google error envelopes,
 * `[sim:finish=content_filter]` → finishReason SAFETY with safetyRatings, and the request checks of
 * google-request.ts.
 */

import { runEngine } from './engine.ts';
import { type SimFault, type StatusFault, statusOfStreamError } from './faults.ts';
import { geminiEmbeddings, vertexEmbeddings } from './google-embeddings.ts';
import {
  errorInfo,
  type GoogleError,
  type GoogleFlavour,
  googleError,
  invalidArgument,
  isGoogleError,
  statusFaultError,
} from './google-errors.ts';
import { GoogleTokenIssuer } from './google-oauth.ts';
import { renderChunks, renderResponse } from './google-render.ts';
import { parseGenerateContent } from './google-request.ts';
import { SseWriter, sendJson, sseEvent } from './http.ts';
import type { SimCloudOptions } from './index.ts';
import type { Exchange, ProtocolHandler, SimRuntime } from './server.ts';
import { settleFault } from './server.ts';

const GEMINI_PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/;
const VERTEX_PATH =
  /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):([A-Za-z]+)$/;
const CHAT_METHODS = new Set(['generateContent', 'streamGenerateContent']);

/** What one inference request is about, whichever front door it came through. */
interface Target {
  flavour: GoogleFlavour;
  version: string;
  model: string;
  method: string;
  /** Vertex: `projects/{p}/locations/{l}/publishers/google/models/{m}`. */
  resource?: string;
}

const send = (ex: Exchange, error: GoogleError) => sendJson(ex.res, error.status, error.body);

/** Google's front end answers unknown paths with an HTML page, not the JSON envelope. */
function notFoundPage(ex: Exchange): void {
  const page = `<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>${ex.path.replace(/[<>&]/g, '')}</code> was not found on this server. <ins>That’s all we know.</ins>\n`;
  ex.res.writeHead(404, {
    'content-type': 'text/html; charset=UTF-8',
    'content-length': Buffer.byteLength(page),
  });
  ex.res.end(page);
}

function modelNotFound(target: Target): GoogleError {
  if (target.flavour === 'gemini') {
    return googleError(
      404,
      `models/${target.model} is not found for API version ${target.version}, or is not supported for ${target.method}. Call ListModels to see the list of available models and their supported methods.`,
    );
  }
  return googleError(
    404,
    `Publisher Model \`${target.resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
  );
}

async function generate(
  ex: Exchange,
  sim: SimRuntime,
  target: Target,
  label: string,
  fault: SimFault | undefined,
) {
  const parsed = parseGenerateContent(ex.body, { flavour: target.flavour, model: target.model, label });
  if (isGoogleError(parsed)) return send(ex, parsed);
  const script = runEngine(parsed);
  sim.chargeTokens(script.usage.promptTokens, script.usage.completionTokens);
  const ctx = { flavour: target.flavour, model: target.model };
  const cut = fault?.kind === 'cut' ? fault.afterChunks : undefined;
  // The error Google sends mid-stream is its plain error envelope (js-genai checks every chunk for one).
  const streamError =
    fault?.kind === 'stream_error'
      ? {
          after: fault.afterChunks,
          error: statusFaultError(statusOfStreamError(fault), target.flavour, target.model),
        }
      : undefined;
  if (target.method === 'generateContent') {
    if (streamError) return send(ex, streamError.error);
    return sendJson(ex.res, 200, renderResponse(script, ctx), {}, cut !== undefined);
  }
  const chunks = renderChunks(script, ctx);
  if (ex.query.get('alt') !== 'sse') {
    // Without alt=sse the stream is one JSON array that grows as it is written; an error is its last element.
    const bodies: unknown[] = chunks.map((c) => c.body);
    if (streamError) bodies.splice(streamError.after, bodies.length, streamError.error.body);
    return sendJson(ex.res, 200, bodies, {}, cut !== undefined);
  }
  const writer = new SseWriter(
    ex.res,
    200,
    {},
    {
      ...(cut === undefined ? {} : { cutAfter: cut }),
      tokensPerSecond: sim.knobs.tokensPerSecond,
      signal: sim.signal,
    },
    streamError && {
      afterEvents: streamError.after,
      piece: sseEvent(JSON.stringify(streamError.error.body)),
    },
  );
  for (const chunk of chunks) if (!(await writer.send(JSON.stringify(chunk.body), chunk.paced))) return;
  await writer.finish(undefined);
}

function createGoogleHandler(
  flavour: GoogleFlavour,
  options: SimCloudOptions,
  label: string,
  authenticate: (ex: Exchange) => GoogleError | undefined,
  route: (ex: Exchange) => Target | GoogleError | undefined,
  extraRoute?: (ex: Exchange) => Promise<void> | undefined,
): ProtocolHandler {
  const models = new Set(options.models ?? []);
  return async (ex, sim) => {
    const handled = extraRoute?.(ex);
    if (handled) return handled;
    const target = ex.method === 'POST' ? route(ex) : undefined;
    if (!target) return notFoundPage(ex);
    const denied = authenticate(ex);
    if (denied) return send(ex, denied);
    if (isGoogleError(target)) return send(ex, target);
    if (ex.bodyInvalid) return send(ex, invalidArgument('Invalid JSON payload received. Unexpected token.'));
    const rendered = (f: StatusFault) => send(ex, statusFaultError(f, flavour, target.model));
    const admission = sim.admit();
    // Google sends no capacity headers; a spent limit is RESOURCE_EXHAUSTED with RetryInfo.
    if (admission.throttled) {
      return rendered({ kind: 'status', status: 429, retryAfterMs: admission.throttled.retryAfterMs });
    }
    const fault = sim.takeFault(target.model);
    if (await settleFault(ex, fault, sim, rendered)) return;
    if (models.size > 0 && !models.has(target.model)) return send(ex, modelNotFound(target));
    if (CHAT_METHODS.has(target.method)) return generate(ex, sim, target, label, fault);
    // Embeddings never stream: a stream_error fault is answered as the error it stands for.
    if (fault?.kind === 'stream_error') return rendered(statusOfStreamError(fault));
    const cut = fault?.kind === 'cut' ? fault.afterChunks : undefined;
    const result =
      flavour === 'gemini'
        ? geminiEmbeddings(target.method, ex.body, target.model)
        : vertexEmbeddings(target.method, ex.body);
    if (isGoogleError(result)) return send(ex, result);
    sendJson(ex.res, 200, result, {}, cut !== undefined);
  };
}

export function createGeminiHandler(options: SimCloudOptions, label: string): ProtocolHandler {
  const keys = new Set(options.apiKeys ?? []);
  const authenticate = (ex: Exchange): GoogleError | undefined => {
    const header = ex.req.headers['x-goog-api-key'];
    const key = (typeof header === 'string' ? header : undefined) ?? ex.query.get('key') ?? '';
    if (key === '') {
      return googleError(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        [errorInfo('SERVICE_DISABLED', 'googleapis.com', { service: 'generativelanguage.googleapis.com' })],
      );
    }
    if (keys.size > 0 && !keys.has(key)) {
      return googleError(400, 'API key not valid. Please pass a valid API key.', [
        errorInfo('API_KEY_INVALID', 'googleapis.com', { service: 'generativelanguage.googleapis.com' }),
      ]);
    }
    return undefined;
  };
  const route = (ex: Exchange): Target | undefined => {
    const match = GEMINI_PATH.exec(ex.path);
    if (!match) return undefined;
    const method = match[3] ?? '';
    if (!CHAT_METHODS.has(method) && method !== 'embedContent' && method !== 'batchEmbedContents')
      return undefined;
    return { flavour: 'gemini', version: match[1] ?? '', model: decodeURIComponent(match[2] ?? ''), method };
  };
  return createGoogleHandler('gemini', options, label, authenticate, route);
}

export function createVertexHandler(options: SimCloudOptions, label: string): ProtocolHandler {
  const issuer = new GoogleTokenIssuer(options.google?.serviceAccount);
  const project = options.google?.project;
  const authenticate = (ex: Exchange): GoogleError | undefined => {
    const match = /^Bearer\s+(\S+)$/i.exec(ex.req.headers.authorization ?? '');
    const detail = (reason: string) => [
      errorInfo(reason, 'googleapis.com', { service: 'aiplatform.googleapis.com' }),
    ];
    if (!match) {
      return googleError(
        401,
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        detail('CREDENTIALS_MISSING'),
      );
    }
    if (options.google?.serviceAccount && !issuer.verify(match[1] ?? '')) {
      return googleError(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        detail('ACCESS_TOKEN_TYPE_UNSUPPORTED'),
      );
    }
    return undefined;
  };
  const route = (ex: Exchange): Target | GoogleError | undefined => {
    const match = VERTEX_PATH.exec(ex.path);
    if (!match) return undefined;
    const [, version = '', p = '', location = '', rawModel = '', method = ''] = match;
    if (!CHAT_METHODS.has(method) && method !== 'predict' && method !== 'embedContent') return undefined;
    const model = decodeURIComponent(rawModel);
    const resource = `projects/${p}/locations/${location}/publishers/google/models/${model}`;
    if (project !== undefined && p !== project) {
      return googleError(
        403,
        `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`,
        [
          errorInfo('IAM_PERMISSION_DENIED', 'aiplatform.googleapis.com', {
            permission: 'aiplatform.endpoints.predict',
            resource: `projects/${p}/locations/${location}`,
          }),
        ],
      );
    }
    return { flavour: 'vertex', version, model, method, resource };
  };
  const tokenRoute = (ex: Exchange) =>
    ex.method === 'POST' && ex.path === '/token' ? issuer.handle(ex) : undefined;
  return createGoogleHandler('vertex', options, label, authenticate, route, tokenRoute);
}

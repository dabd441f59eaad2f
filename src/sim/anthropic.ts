/**
 * Simulated Anthropic Messages API (Anthropic API reference): `POST /v1/messages` (JSON and SSE with `event:`
 * lines), `GET /v1/models`. Auth by `x-api-key` (what 0.x SDKs and the gateway send) or
 * `Authorization: Bearer` (what the 1.x SDK sends); `anthropic-version` required, any dated
 * version accepted. Errors use the `{"type":"error","error":{type,message},"request_id"}` envelope
 * with a `request-id` header. Prompt caching is simulated: the prompt up to a `cache_control`
 * breakpoint is written on first sight and read afterwards (no 1024-token minimum).
 *
 * Faults: a `status` fault renders Anthropic's error type for that status (429 rate_limit_error
 * with `retry-after`, 500 api_error, 529 overloaded_error, ...). A 503 fault answers 529
 * overloaded_error: Anthropic signals "temporarily unavailable" that way, never with 503. `cut`
 * ends an SSE stream after that many events, or a JSON body halfway. `stream_error` sends
 * `event: error` after `message_start` and `afterChunks` more events. With the `rateLimit` knob the
 * `anthropic-ratelimit-*` headers tell the window (rate-limit-headers.ts).
 *
 * Anthropic-only directive `[sim:stream_error=<error type>]` (optionally `@N`): a streamed answer
 * sends N events (default 1, just `message_start`), then `event: error` with that type, and ends;
 * how a real overload shows up on a stream that already answered 200.
 */

import { randomBytes } from 'node:crypto';
import { isApiError, type ParsedMessages, parseMessagesBody } from './anthropic-request.ts';
import { runEngine, type SimChoice, type SimScript } from './engine.ts';
import { retryAfterOf, type SimFault, type StatusFault, statusOfStreamError } from './faults.ts';
import { type Headers, SseWriter, sendJson, sseEvent } from './http.ts';
import type { SimCloudOptions } from './index.ts';
import { anthropicRateLimitHeaders } from './rate-limit-headers.ts';
import { type Exchange, type ProtocolHandler, type SimRuntime, settleFault } from './server.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function base62(length: number): string {
  return Array.from(randomBytes(length), (b) => BASE62[b % 62]).join('');
}

/** Anthropic's error type and default message for a fault's status. */
const STATUS_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request.' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  402: {
    type: 'billing_error',
    message:
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  },
  403: {
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  404: { type: 'not_found_error', message: 'The requested resource could not be found.' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: {
    type: 'rate_limit_error',
    message:
      "This request would exceed your organization's rate limit of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the request rate or contact sales to discuss a rate limit increase.",
  },
  500: { type: 'api_error', message: 'Internal server error' },
  504: { type: 'timeout_error', message: 'Request timeout' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

interface NativeError {
  status: number;
  type: string;
  message: string;
  headers?: Headers;
}

function statusFaultError(fault: StatusFault): NativeError {
  const status = fault.status === 503 ? 529 : fault.status;
  const known = STATUS_ERRORS[status] ?? {
    type: status >= 500 ? 'api_error' : 'invalid_request_error',
    message: status >= 500 ? 'Internal server error' : 'Invalid request.',
  };
  const retryAfterMs = retryAfterOf(fault);
  // Anthropic sends whole seconds only (no retry-after-ms).
  const headers: Headers =
    retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  return { status, type: known.type, message: fault.message ?? known.message, headers };
}

/** `toolu_01` + 22 characters, derived from the engine's id so it stays deterministic. */
function toolUseId(engineId: string): string {
  return `toolu_01${engineId.slice('call_'.length).padEnd(22, 'x').slice(0, 22)}`;
}

interface Outcome {
  stopReason: string;
  stopSequence: string | null;
}

/** Which stop reason Anthropic would give, including the stop sequence that actually matched. */
function outcomeOf(choice: SimChoice, parsed: ParsedMessages, model: string, label: string): Outcome {
  switch (choice.finishReason) {
    case 'length':
      return { stopReason: 'max_tokens', stopSequence: null };
    case 'tool_calls':
      return { stopReason: 'tool_use', stopSequence: null };
    case 'content_filter':
      return { stopReason: 'refusal', stopSequence: null };
    case 'stop': {
      const stop = parsed.request.stop ?? [];
      if (stop.length === 0) return { stopReason: 'end_turn', stopSequence: null };
      // The engine cuts before the first stop sequence; the uncut answer tells which one matched.
      const { stop: _stop, ...uncut } = parsed.request;
      const full = runEngine({ ...uncut, model, label }).choices[0]?.tokens.join('') ?? '';
      const cutAt = choice.tokens.join('').length;
      const matched = stop.find((s) => full.startsWith(s, cutAt));
      return matched === undefined
        ? { stopReason: 'end_turn', stopSequence: null }
        : { stopReason: 'stop_sequence', stopSequence: matched };
    }
  }
}

function usageJson(script: SimScript, cache: { read: number; write: number }, outputTokens: number) {
  return {
    input_tokens: Math.max(0, script.usage.promptTokens - cache.read - cache.write),
    cache_creation_input_tokens: cache.write,
    cache_read_input_tokens: cache.read,
    cache_creation: { ephemeral_5m_input_tokens: cache.write, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function contentJson(choice: SimChoice): Record<string, unknown>[] {
  const content: Record<string, unknown>[] = [];
  const text = choice.tokens.join('');
  if (text !== '') content.push({ type: 'text', text });
  for (const call of choice.toolCalls) {
    let input: unknown = {};
    try {
      input = JSON.parse(call.argumentsJson);
    } catch {
      // Arguments cut by max_tokens are not JSON; the API still answers an object.
    }
    content.push({ type: 'tool_use', id: toolUseId(call.id), name: call.name, input });
  }
  return content;
}

interface Rendering {
  id: string;
  model: string;
  script: SimScript;
  outcome: Outcome;
  cache: { read: number; write: number };
  streamError?: StreamError;
}

interface StreamError {
  type: string;
  afterEvents: number;
}

const STREAM_ERROR = /\[sim:stream_error=([a-z_]+)(?:@(\d+))?\]/;

/** The `[sim:stream_error=...]` directive in the last user text, like the engine's directives. */
function streamErrorOf(parsed: ParsedMessages): StreamError | undefined {
  const last = parsed.request.messages.at(-1);
  const match = last?.role === 'user' ? STREAM_ERROR.exec(last.text) : null;
  if (!match) return undefined;
  return { type: match[1]!, afterEvents: match[2] === undefined ? 1 : Number(match[2]) };
}

/**
 * A `stream_error` fault: Anthropic's error for its status (503 → 529 overloaded_error) after
 * `message_start` and `afterChunks` more events.
 */
function faultStreamError(fault: SimFault | undefined): StreamError | undefined {
  if (fault?.kind !== 'stream_error') return undefined;
  return { type: statusFaultError(statusOfStreamError(fault)).type, afterEvents: fault.afterChunks + 1 };
}

function errorMessage(type: string): string {
  return Object.values(STATUS_ERRORS).find((e) => e.type === type)?.message ?? 'Internal server error';
}

/** The SSE sequence of Anthropic API reference: Streaming SSE, with `ping` after the first content_block_start. */
async function streamMessage(
  ex: Exchange,
  sim: SimRuntime,
  r: Rendering,
  headers: Headers,
  fault?: SimFault,
) {
  const streamError = r.streamError;
  const inBandError = streamError && {
    afterEvents: streamError.afterEvents,
    piece: sseEvent(
      JSON.stringify({
        type: 'error',
        error: { type: streamError.type, message: errorMessage(streamError.type) },
      }),
      'error',
    ),
  };
  const writer = new SseWriter(
    ex.res,
    200,
    headers,
    {
      ...(fault?.kind === 'cut' ? { cutAfter: fault.afterChunks } : {}),
      tokensPerSecond: sim.knobs.tokensPerSecond,
      signal: sim.signal,
    },
    inBandError,
  );
  const send = (name: string, data: Record<string, unknown>, paced = false): Promise<boolean> =>
    writer.send(JSON.stringify({ type: name, ...data }), paced, name);
  const choice = r.script.choices[0]!;
  const message = {
    id: r.id,
    type: 'message',
    role: 'assistant',
    model: r.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: usageJson(r.script, r.cache, 1),
  };
  if (!(await send('message_start', { message }))) return;
  let index = 0;
  let pinged = false;
  const open = async (block: Record<string, unknown>) => {
    if (!(await send('content_block_start', { index, content_block: block }))) return false;
    if (!pinged) {
      pinged = true;
      return send('ping', {});
    }
    return true;
  };
  if (choice.tokens.length > 0) {
    if (!(await open({ type: 'text', text: '' }))) return;
    for (const token of choice.tokens) {
      if (!(await send('content_block_delta', { index, delta: { type: 'text_delta', text: token } }, true)))
        return;
    }
    if (!(await send('content_block_stop', { index }))) return;
    index++;
  }
  for (const call of choice.toolCalls) {
    if (!(await open({ type: 'tool_use', id: toolUseId(call.id), name: call.name, input: {} }))) return;
    // The first input_json_delta is empty, as on the real API.
    for (const piece of ['', ...call.fragments]) {
      const delta = { type: 'input_json_delta', partial_json: piece };
      if (!(await send('content_block_delta', { index, delta }, piece !== ''))) return;
    }
    if (!(await send('content_block_stop', { index }))) return;
    index++;
  }
  const delta = { stop_reason: r.outcome.stopReason, stop_sequence: r.outcome.stopSequence };
  if (!(await send('message_delta', { delta, usage: { output_tokens: r.script.usage.completionTokens } })))
    return;
  if (!(await send('message_stop', {}))) return;
  await writer.finish(undefined);
}

export function createAnthropicHandler(options: SimCloudOptions, label: string): ProtocolHandler {
  const keys = new Set(options.apiKeys ?? []);
  const models = options.models ?? [];
  /** Prompt-prefix hashes already written to the simulated cache. */
  const cached = new Set<string>();

  function headers(): Headers {
    const reset = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      'request-id': `req_011C${base62(20)}`,
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': reset,
      'anthropic-ratelimit-tokens-limit': '2000000',
      'anthropic-ratelimit-tokens-remaining': '1999000',
      'anthropic-ratelimit-tokens-reset': reset,
    };
  }

  function sendError(ex: Exchange, h: Headers, error: NativeError): void {
    const body = {
      type: 'error',
      error: { type: error.type, message: error.message },
      request_id: h['request-id'],
    };
    sendJson(ex.res, error.status, body, { ...h, ...error.headers });
  }

  function authenticate(ex: Exchange): NativeError | undefined {
    const apiKey = ex.req.headers['x-api-key'];
    const bearer = /^Bearer\s+(.+)$/i.exec(ex.req.headers.authorization ?? '')?.[1]?.trim();
    const key = typeof apiKey === 'string' && apiKey !== '' ? apiKey : bearer;
    if (!key) return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
    if (keys.size > 0 && !keys.has(key)) {
      return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
    }
    const version = ex.req.headers['anthropic-version'];
    if (typeof version !== 'string' || version === '') {
      return { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' };
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      return {
        status: 400,
        type: 'invalid_request_error',
        message: `anthropic-version: invalid version "${version}"`,
      };
    }
    return undefined;
  }

  async function messages(ex: Exchange, sim: SimRuntime) {
    let h = headers();
    const denied = authenticate(ex);
    if (denied) return sendError(ex, h, denied);
    if (ex.bodyInvalid) {
      return sendError(ex, h, {
        status: 400,
        type: 'invalid_request_error',
        message: 'There was an error parsing the body of your request: invalid JSON',
      });
    }
    const requested = (ex.body as { model?: unknown } | undefined)?.model;
    const admission = sim.admit();
    h = anthropicRateLimitHeaders(h, admission.snapshot);
    if (admission.throttled) {
      const { retryAfterMs } = admission.throttled;
      return sendError(ex, h, statusFaultError({ kind: 'status', status: 429, retryAfterMs }));
    }
    const fault = sim.takeFault(typeof requested === 'string' ? requested : undefined);
    if (await settleFault(ex, fault, sim, (f) => sendError(ex, h, statusFaultError(f)))) return;
    const parsed = parseMessagesBody(ex.body);
    if (isApiError(parsed)) return sendError(ex, h, parsed);
    if (models.length > 0 && !models.includes(parsed.model)) {
      return sendError(ex, h, { status: 404, type: 'not_found_error', message: `model: ${parsed.model}` });
    }
    const script = runEngine({ ...parsed.request, model: parsed.model, label });
    sim.chargeTokens(script.usage.promptTokens, script.usage.completionTokens);
    const cache = { read: 0, write: 0 };
    if (parsed.cachePrefix) {
      const tokens = Math.min(parsed.cachePrefix.tokens, script.usage.promptTokens);
      if (cached.has(parsed.cachePrefix.key)) cache.read = tokens;
      else {
        cached.add(parsed.cachePrefix.key);
        cache.write = tokens;
      }
    }
    const choice = script.choices[0]!;
    const rendering: Rendering = {
      id: `msg_01${base62(22)}`,
      model: parsed.model,
      script,
      outcome: outcomeOf(choice, parsed, parsed.model, label),
      cache,
    };
    const streamError = streamErrorOf(parsed) ?? faultStreamError(fault);
    if (streamError) rendering.streamError = streamError;
    if (parsed.stream) return streamMessage(ex, sim, rendering, h, fault);
    // A request that does not stream gets the error a stream_error fault stands for, whole.
    if (fault?.kind === 'stream_error') return sendError(ex, h, statusFaultError(statusOfStreamError(fault)));
    const body = {
      id: rendering.id,
      type: 'message',
      role: 'assistant',
      model: parsed.model,
      content: contentJson(choice),
      stop_reason: rendering.outcome.stopReason,
      stop_sequence: rendering.outcome.stopSequence,
      usage: usageJson(script, cache, script.usage.completionTokens),
    };
    sendJson(ex.res, 200, body, h, fault?.kind === 'cut');
  }

  return async (ex, sim) => {
    if (ex.method === 'POST' && ex.path === '/v1/messages') return messages(ex, sim);
    const h = headers();
    if (ex.method === 'GET' && ex.path === '/v1/models') {
      const denied = authenticate(ex);
      if (denied) return sendError(ex, h, denied);
      const data = models.map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2025-09-29T00:00:00Z',
      }));
      return sendJson(
        ex.res,
        200,
        { data, has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null },
        h,
      );
    }
    sendError(ex, h, { status: 404, type: 'not_found_error', message: 'Not Found' });
  };
}

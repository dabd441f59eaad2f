import type { ChatEvent, ChatRequest, Usage } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import { tryParseJson } from '../core/json.ts';
import { UpstreamError } from '../core/upstream.ts';
import { type CompletionMeta, collectCompletion } from '../egress/openai/chat-completion.ts';
import { ChatChunkEncoder } from '../egress/openai/chat-stream.ts';
import { sseErrorFrame } from '../egress/openai/errors.ts';
import { estimateChat } from '../gateway/estimate.ts';
import type { Delivery, InferenceSpec } from '../gateway/lifecycle.ts';
import type { Runtime } from '../gateway/runtime.ts';
import type { RequestScope } from '../gateway/scope.ts';
import { createRequestImageLoader, type ImageLoader } from '../providers/shared/images.ts';
import type { ChatStreamDecoder } from '../providers/types.ts';
import type { AbortCause, ServedAttempt } from '../resilience/attempts.ts';
import { failureFromTransportError } from '../transport/http.ts';
import { BatchedWriter, contractHeaders, type Exchange, sendJson } from './exchange.ts';
import { sendClassified } from './upstream.ts';

/** A stream whose first output arrived: the rest is read only as fast as the client takes it. */
interface OpenStream {
  first: ChatEvent[];
  chunks: AsyncIterator<Uint8Array>;
  decoder: ChatStreamDecoder;
  /** The upstream body already ended while the first output was read. */
  ended: boolean;
}

type ChatAnswer = { kind: 'complete'; events: ChatEvent[] } | { kind: 'stream'; stream: OpenStream };

/** Chat completions as one operation of the lifecycle: how to attempt it and how to deliver it. */
export function chatSpec(
  rt: Runtime,
  ex: Exchange,
  request: ChatRequest,
  requestBody: string | undefined,
): InferenceSpec<ChatAnswer> {
  const loadImage = hasImages(request) ? requestImageLoader(rt, ex, request) : NO_IMAGES;
  const collectBodies = rt.config.logging.bodies;
  return {
    operation: 'chat',
    model: request.model,
    stream: request.stream,
    estimate: estimateChat(request),
    ...(requestBody === undefined ? {} : { requestBody }),
    attempt: async (deployment, io) => {
      const call = await deployment.provider.chatCall(request, { model: deployment.model }, { loadImage });
      const response = await sendClassified(io, deployment.provider, call);
      if (!request.stream) {
        const text = await response.body.text();
        io.firstOutput();
        const json = tryParseJson(text);
        if (json === undefined) {
          throw new UpstreamError({ kind: 'protocol', retryable: true, message: 'response is not JSON' });
        }
        return { kind: 'complete', events: deployment.provider.decodeChat(json, request) };
      }
      const decoder = deployment.provider.chatStreamDecoder(request);
      const chunks = response.body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      // Failover stays invisible until the first output: read until the cloud has said something.
      for (;;) {
        const next = await chunks.next();
        const first = next.done ? decoder.end() : decoder.push(next.value);
        if (first.length > 0 || next.done) {
          io.firstOutput();
          return { kind: 'stream', stream: { first, chunks, decoder, ended: next.done === true } };
        }
      }
    },
    deliver: async (answer, served, scope) => {
      const meta: CompletionMeta = {
        id: `chatcmpl-${ex.id.slice(4)}`,
        model: request.model,
        created: Math.floor(Date.now() / 1000),
      };
      if (answer.kind === 'complete') {
        const body = collectCompletion(answer.events, meta);
        const payload = JSON.stringify(body);
        sendJson(ex, 200, body, {}, payload);
        return {
          status: 200,
          errorCode: null,
          usage: usageOf(answer.events),
          firstOutputAtMs: Date.now(),
          ...(collectBodies ? { responseBody: payload } : {}),
        };
      }
      return pipeStream(ex, served, answer.stream, meta, request.includeUsage, scope, collectBodies);
    },
  };
}

/** Providers ask for images only for image parts; a request without any never calls this. */
const NO_IMAGES: ImageLoader = () => Promise.reject(new Error('this request has no image parts'));
/** Made once: an abort without a reason builds (and captures a stack for) a DOMException each time. */
const CLIENT_GONE = new DOMException('the client connection closed', 'AbortError');

function hasImages(request: ChatRequest): boolean {
  return request.messages.some((m) => m.role === 'user' && m.content.some((p) => p.type === 'image'));
}

/** One loader for every attempt: each image is fetched once, and not after the client left. */
function requestImageLoader(rt: Runtime, ex: Exchange, request: ChatRequest): ImageLoader {
  const stop = new AbortController();
  ex.res.once('close', () => stop.abort(CLIENT_GONE));
  return createRequestImageLoader(rt.config.server.imageFetch, request, stop.signal);
}

function usageOf(events: readonly ChatEvent[]): Usage | undefined {
  let usage: Usage | undefined;
  for (const event of events) if (event.type === 'usage') usage = event.usage;
  return usage;
}

/** Thrown inside pipeStream when the request was stopped from outside (deadline, shutdown). */
class StreamStopped extends Error {}

async function pipeStream(
  ex: Exchange,
  served: ServedAttempt,
  stream: OpenStream,
  meta: CompletionMeta,
  includeUsage: boolean,
  scope: RequestScope,
  collectBody: boolean,
): Promise<Delivery> {
  const { res } = ex;
  const signal = scope.context.requestSignal;
  const encoder = new ChatChunkEncoder(meta, includeUsage);
  let body = '';
  const keep = (events: readonly ChatEvent[]) => {
    if (collectBody) for (const e of events) if (e.type === 'text') body += e.text;
  };
  const stopIfAborted = () => {
    if (signal.aborted) throw new StreamStopped();
  };
  const out = new BatchedWriter(res, signal);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    ...contractHeaders(ex),
  });
  const firstOutputAtMs = Date.now();
  const delivered = (errorCode: string | null): Delivery => ({
    status: 200,
    errorCode,
    usage: encoder.reportedUsage,
    firstOutputAtMs,
    ...(collectBody ? { responseBody: body } : {}),
  });
  try {
    keep(stream.first);
    await out.write(encoder.encode(stream.first));
    if (!stream.ended) {
      for (;;) {
        stopIfAborted();
        const next = await stream.chunks.next();
        if (next.done) break;
        const events = stream.decoder.push(next.value);
        keep(events);
        if (events.length > 0) await out.write(encoder.encode(events));
      }
    }
    stopIfAborted();
    const last = stream.ended ? [] : stream.decoder.end();
    keep(last);
    out.end(encoder.encode(last) + encoder.end());
    return delivered(null);
  } catch (err) {
    const cause = scope.abortCause();
    if (res.destroyed || cause === 'client_gone') return delivered('client_gone');
    const error = streamError(err, cause, served, scope);
    // Text decoded before the failure still goes first.
    out.end(sseErrorFrame(error));
    // A client that reads nothing would hold the connection (and this request) forever.
    if (res.writableNeedDrain) res.destroy();
    return delivered(error.code);
  }
}

/** Why a started stream ends early, as the error event the client gets. */
function streamError(
  err: unknown,
  cause: AbortCause | undefined,
  served: ServedAttempt,
  scope: RequestScope,
): GatewayError {
  const from = `${served.deployment.provider.id}/${served.deployment.model}`;
  if (cause === 'total_timeout') {
    return new GatewayError('upstream_timeout', `the total timeout was reached while streaming from ${from}`);
  }
  if (cause === 'shutting_down') {
    return new GatewayError(
      'shutting_down',
      `the gateway is shutting down; the stream from ${from} was ended early`,
    );
  }
  if (!(err instanceof UpstreamError)) {
    // The gateway's own code failed (a decoder bug): never counted against the cloud.
    scope.context.log.error('stream_internal_error', { provider: served.deployment.provider.id, error: err });
    return new GatewayError('internal_error', `internal error in the gateway while streaming from ${from}`);
  }
  const failure = failureFromTransportError(err);
  served.failedLater(failure);
  return new GatewayError(
    'upstream_stream_failed',
    `the upstream stream from ${from} failed after it started: ${failure.message}`,
  );
}

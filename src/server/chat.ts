import type { ChatEvent, ChatRequest } from '../core/chat.ts';
import { GatewayError } from '../core/errors.ts';
import { tryParseJson } from '../core/json.ts';
import { UpstreamError } from '../core/upstream.ts';
import { type CompletionMeta, collectCompletion } from '../egress/openai/chat-completion.ts';
import { ChatChunkEncoder } from '../egress/openai/chat-stream.ts';
import { sseErrorFrame } from '../egress/openai/errors.ts';
import type { Runtime } from '../gateway/runtime.ts';
import type { Principal } from '../identity/keys.ts';
import type { ChatStreamDecoder } from '../providers/types.ts';
import { type AbortCause, runAttempts, type ServedAttempt } from '../resilience/attempts.ts';
import { failureFromTransportError } from '../transport/http.ts';
import { BatchedWriter, contractHeaders, type Exchange, sendJson } from './exchange.ts';
import {
  openRequestScope,
  type RequestScope,
  resolveModel,
  sendClassified,
  settleAttempts,
} from './scope.ts';

/** A stream whose first output arrived: the rest is read only as fast as the client takes it. */
interface OpenStream {
  first: ChatEvent[];
  chunks: AsyncIterator<Uint8Array>;
  decoder: ChatStreamDecoder;
  /** The upstream body already ended while the first output was read. */
  ended: boolean;
}

export async function serveChat(
  rt: Runtime,
  ex: Exchange,
  principal: Principal,
  request: ChatRequest,
): Promise<void> {
  const model = resolveModel(rt, principal, request.model);
  const scope = openRequestScope(rt, ex, model);
  try {
    const result = await runAttempts(scope.context, async (deployment, io) => {
      const call = await deployment.provider.chatCall(request, { model: deployment.model });
      const response = await sendClassified(io, deployment.provider, call);
      if (!request.stream) {
        const text = await response.body.text();
        io.firstByte();
        const json = tryParseJson(text);
        if (json === undefined)
          throw new UpstreamError({ kind: 'protocol', retryable: true, message: 'response is not JSON' });
        return { kind: 'complete' as const, events: deployment.provider.decodeChat(json, request) };
      }
      const decoder = deployment.provider.chatStreamDecoder(request);
      const chunks = response.body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      // Failover stays invisible until the first output: read until the cloud has said something.
      for (;;) {
        const next = await chunks.next();
        const first = next.done ? decoder.end() : decoder.push(next.value);
        if (first.length > 0 || next.done) {
          io.firstByte();
          const stream: OpenStream = { first, chunks, decoder, ended: next.done === true };
          return { kind: 'stream' as const, stream };
        }
      }
    });
    const served = settleAttempts(ex, scope, result);
    if (!served || !result.ok) return;
    const meta: CompletionMeta = {
      id: `chatcmpl-${ex.id.slice(4)}`,
      model: request.model,
      created: Math.floor(Date.now() / 1000),
    };
    try {
      if (result.value.kind === 'complete') sendJson(ex, 200, collectCompletion(result.value.events, meta));
      else await pipeStream(ex, served, result.value.stream, meta, request.includeUsage, scope);
    } finally {
      served.end();
    }
  } finally {
    scope.close();
  }
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
): Promise<void> {
  const { res } = ex;
  const signal = scope.context.requestSignal;
  const encoder = new ChatChunkEncoder(meta, includeUsage);
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
  try {
    await out.write(encoder.encode(stream.first));
    if (!stream.ended) {
      for (;;) {
        stopIfAborted();
        const next = await stream.chunks.next();
        if (next.done) break;
        const events = stream.decoder.push(next.value);
        if (events.length > 0) await out.write(encoder.encode(events));
      }
    }
    stopIfAborted();
    out.end((stream.ended ? '' : encoder.encode(stream.decoder.end())) + encoder.end());
  } catch (err) {
    const cause = scope.abortCause();
    if (res.destroyed || cause === 'client_gone') return;
    // Text decoded before the failure still goes first.
    out.end(sseErrorFrame(streamError(err, cause, served)));
    // A client that reads nothing would hold the connection (and this request) forever.
    if (res.writableNeedDrain) res.destroy();
  }
}

/** Why a started stream ends early, as the error event the client gets. */
function streamError(err: unknown, cause: AbortCause | undefined, served: ServedAttempt): GatewayError {
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
  const failure = failureFromTransportError(err);
  served.failedLater(failure);
  return new GatewayError(
    'upstream_stream_failed',
    `the upstream stream from ${from} failed after it started: ${failure.message}`,
  );
}

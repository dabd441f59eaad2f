/**
 * Simulated AWS Bedrock Runtime (AWS Bedrock API reference): `POST /model/{modelId}/converse`, `/converse-stream`
 * (binary event stream) and `/invoke` (Titan and Cohere embeddings). Callers authenticate with a
 * SigV4 signature (verified against `options.aws`) or a Bedrock API key (`options.apiKeys`); errors
 * are `{"message"}` bodies with `x-amzn-ErrorType` and `x-amzn-RequestId`, as the service sends them.
 */

import { randomUUID } from 'node:crypto';
import { invokeEmbeddings } from './bedrock-embeddings.ts';
import { ConverseValidationError, parseConverseBody } from './bedrock-request.ts';
import { authenticateBedrock } from './bedrock-sigv4.ts';
import { EventStreamWriter, exceptionFrame } from './bedrock-stream.ts';
import { runEngine, type SimRequest, type SimScript } from './engine.ts';
import {
  retryAfterHeaders,
  retryAfterOf,
  type SimFault,
  type StatusFault,
  type StreamErrorFault,
  statusOfStreamError,
} from './faults.ts';
import { type Headers, sendJson } from './http.ts';
import type { SimCloudOptions } from './index.ts';
import type { Exchange, ProtocolHandler, SimRuntime } from './server.ts';
import { settleFault } from './server.ts';

/** `/model/{id}/{operation}`; an application-inference-profile ARN may carry literal slashes. */
const ROUTE = /^\/model\/(.+)\/(converse|converse-stream|invoke)$/;
/** The default blocked-output message of a Bedrock guardrail. */
export const GUARDRAIL_TEXT = 'Sorry, the model cannot answer this question.';

/** Status fault → the exception Bedrock answers that status with (AWS Bedrock API reference: Non-streaming errors). */
const FAULT_EXCEPTIONS: Record<number, { type: string; message: string }> = {
  400: { type: 'ValidationException', message: 'The request was rejected by the simulated fault.' },
  403: {
    type: 'AccessDeniedException',
    message: "You don't have access to the model with the specified model ID.",
  },
  404: { type: 'ResourceNotFoundException', message: 'The requested resource could not be found.' },
  408: {
    type: 'ModelTimeoutException',
    message: 'Model has timed out in processing the request. Try your request again.',
  },
  424: { type: 'ModelErrorException', message: 'The model returned an error.' },
  429: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  500: {
    type: 'InternalServerException',
    message: 'The server encountered an internal error while processing the request.',
  },
  503: { type: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' },
};

function sendError(
  ex: Exchange,
  headers: Headers,
  status: number,
  type: string,
  message: string,
  extra: Headers = {},
) {
  sendJson(
    ex.res,
    status,
    { message },
    {
      ...headers,
      ...extra,
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    },
  );
}

function exceptionOf(fault: StatusFault): { type: string; message: string } {
  return (
    FAULT_EXCEPTIONS[fault.status] ?? {
      type: fault.status >= 500 ? 'InternalServerException' : 'ValidationException',
      message: `The simulated fault answered ${fault.status}.`,
    }
  );
}

/**
 * A `stream_error` fault's exception frame (`throttlingException`, `internalServerException`,
 * `serviceUnavailableException`: the stream's member names, camelCase), sent after messageStart
 * and `afterChunks` more events; afterChunks 0 is an exception right after messageStart.
 */
function streamException(fault: StreamErrorFault) {
  const { type, message } = exceptionOf(statusOfStreamError(fault));
  const member = `${type[0]!.toLowerCase()}${type.slice(1)}`;
  return { afterEvents: fault.afterChunks + 1, piece: exceptionFrame(member, { message }) };
}

function sendStatusFault(ex: Exchange, headers: Headers, fault: StatusFault) {
  const known = exceptionOf(fault);
  sendError(
    ex,
    headers,
    fault.status,
    known.type,
    fault.message ?? known.message,
    retryAfterHeaders(retryAfterOf(fault)),
  );
}

/** Bedrock-looking tool ids (`tooluse_...`) from the engine's deterministic `call_...` ids. */
const toolUseId = (engineId: string) => `tooluse_${engineId.replace(/^call_/, '')}`;

function stopReason(script: SimScript, request: SimRequest): string {
  const choice = script.choices[0];
  switch (choice?.finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'guardrail_intervened';
    default: {
      if (!request.stop?.length) return 'end_turn';
      // Converse says that a stop sequence ended the answer, not which one.
      const uncut = runEngine({ ...request, stop: [] }).choices[0]?.tokens.join('') ?? '';
      return uncut === choice?.tokens.join('') ? 'end_turn' : 'stop_sequence';
    }
  }
}

function usage(script: SimScript) {
  const { promptTokens, completionTokens } = script.usage;
  return {
    inputTokens: promptTokens,
    outputTokens: completionTokens,
    totalTokens: promptTokens + completionTokens,
  };
}

function parsedArguments(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    // Arguments cut by maxTokens are not JSON; Converse still hands back an object.
    return {};
  }
}

function converse(
  ex: Exchange,
  sim: SimRuntime,
  headers: Headers,
  request: SimRequest,
  fault: SimFault | undefined,
) {
  // Converse does not stream: a stream_error fault is answered as the exception it stands for.
  if (fault?.kind === 'stream_error') return sendStatusFault(ex, headers, statusOfStreamError(fault));
  const script = runEngine(request);
  sim.chargeTokens(script.usage.promptTokens, script.usage.completionTokens);
  const choice = script.choices[0];
  const content: Record<string, unknown>[] = [];
  if (script.contentFilter) content.push({ text: GUARDRAIL_TEXT });
  else if (choice && choice.tokens.length > 0) content.push({ text: choice.tokens.join('') });
  for (const call of choice?.toolCalls ?? []) {
    content.push({
      toolUse: { toolUseId: toolUseId(call.id), name: call.name, input: parsedArguments(call.argumentsJson) },
    });
  }
  const body = {
    output: { message: { role: 'assistant', content } },
    stopReason: stopReason(script, request),
    usage: usage(script),
    metrics: { latencyMs: 1 },
  };
  sendJson(ex.res, 200, body, headers, fault?.kind === 'cut');
}

/** The real event order: messageStart, per block [contentBlockStart (tools only)] deltas stop, messageStop, metadata. */
async function converseStream(
  ex: Exchange,
  sim: SimRuntime,
  headers: Headers,
  request: SimRequest,
  fault: SimFault | undefined,
) {
  const script = runEngine(request);
  sim.chargeTokens(script.usage.promptTokens, script.usage.completionTokens);
  const choice = script.choices[0];
  const writer = new EventStreamWriter(
    ex.res,
    headers,
    {
      signal: sim.signal,
      tokensPerSecond: sim.knobs.tokensPerSecond,
      ...(fault?.kind === 'cut' ? { cutAfter: fault.afterChunks } : {}),
    },
    fault?.kind === 'stream_error' ? streamException(fault) : undefined,
  );
  const steps: [type: string, payload: Record<string, unknown>, paced: boolean][] = [
    ['messageStart', { role: 'assistant' }, false],
  ];
  let index = 0;
  const tokens = script.contentFilter ? [GUARDRAIL_TEXT] : (choice?.tokens ?? []);
  if (tokens.length > 0) {
    for (const text of tokens)
      steps.push(['contentBlockDelta', { contentBlockIndex: index, delta: { text } }, true]);
    steps.push(['contentBlockStop', { contentBlockIndex: index }, false]);
    index++;
  }
  for (const call of choice?.toolCalls ?? []) {
    steps.push([
      'contentBlockStart',
      { contentBlockIndex: index, start: { toolUse: { toolUseId: toolUseId(call.id), name: call.name } } },
      false,
    ]);
    for (const input of call.fragments)
      steps.push(['contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input } } }, true]);
    steps.push(['contentBlockStop', { contentBlockIndex: index }, false]);
    index++;
  }
  steps.push(['messageStop', { stopReason: stopReason(script, request) }, false]);
  steps.push(['metadata', { usage: usage(script), metrics: { latencyMs: 1 } }, false]);
  for (const [type, payload, paced] of steps) if (!(await writer.event(type, payload, paced))) return;
  await writer.finish();
}

export function createBedrockHandler(options: SimCloudOptions, label: string): ProtocolHandler {
  const region = options.region ?? 'us-east-1';
  const models = new Set(options.models ?? []);
  const auth = { apiKeys: options.apiKeys ?? [], aws: options.aws, region };

  return async (ex, sim) => {
    const headers: Headers = { 'x-amzn-requestid': randomUUID() };
    const route = ROUTE.exec(ex.path);
    if (!route || ex.method !== 'POST')
      return sendError(ex, headers, 404, 'UnknownOperationException', 'Unknown operation');
    let modelId: string;
    try {
      modelId = decodeURIComponent(route[1] ?? '');
    } catch {
      return sendError(ex, headers, 400, 'ValidationException', 'The provided model identifier is invalid.');
    }
    const denied = await authenticateBedrock(ex, auth);
    if (denied) return sendError(ex, headers, denied.status, denied.errorType, denied.message);
    const admission = sim.admit();
    if (admission.throttled) {
      // Bedrock sends no capacity headers; a spent limit is its ThrottlingException.
      const per = admission.throttled.limit === 'requests' ? 'requests' : 'tokens';
      const { retryAfterMs } = admission.throttled;
      const message = `Too many ${per}, please wait before trying again.`;
      return sendStatusFault(ex, headers, { kind: 'status', status: 429, retryAfterMs, message });
    }
    const fault = sim.takeFault(modelId);
    if (await settleFault(ex, fault, sim, (f) => sendStatusFault(ex, headers, f))) return;
    if (ex.bodyInvalid)
      return sendError(
        ex,
        headers,
        400,
        'SerializationException',
        'Unable to parse the request body as JSON.',
      );
    if (models.size > 0 && !models.has(modelId)) {
      return sendError(ex, headers, 400, 'ValidationException', 'The provided model identifier is invalid.');
    }
    if (route[2] === 'invoke') {
      if (fault?.kind === 'stream_error') return sendStatusFault(ex, headers, statusOfStreamError(fault));
      const result = invokeEmbeddings(modelId, ex.body);
      if (!result.ok) return sendError(ex, headers, 400, 'ValidationException', result.message);
      sim.chargeTokens(result.inputTokens, 0);
      const tokenHeaders = { 'x-amzn-bedrock-input-token-count': String(result.inputTokens) };
      return sendJson(ex.res, 200, result.body, { ...headers, ...tokenHeaders }, fault?.kind === 'cut');
    }
    let request: SimRequest;
    try {
      request = parseConverseBody(ex.body, modelId, label);
    } catch (err) {
      if (err instanceof ConverseValidationError)
        return sendError(ex, headers, 400, 'ValidationException', err.message);
      throw err;
    }
    if (route[2] === 'converse') return converse(ex, sim, headers, request, fault);
    return converseStream(ex, sim, headers, request, fault);
  };
}

/**
 * OpenTelemetry traces: one span per request, one child span per upstream attempt, exported over
 * OTLP/HTTP (JSON) when `telemetry.otlpEndpoint` is set.
 *
 * The client's W3C `traceparent` is honoured either way: with export on, the request span becomes
 * its child and each attempt sends its own span as the upstream's parent; with export off, the
 * client's header is passed upstream unchanged, so a trace through the gateway still joins up.
 *
 * Nothing here registers a global provider or context manager: parents are passed explicitly, so
 * two gateways (or two tests) in one process never see each other's spans.
 */
import {
  type Attributes,
  type Context,
  type HrTime,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type ExportResult, parseTraceParent, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type { ProviderType, TelemetryConfig } from '../config/schema.ts';
import type { Operation, RequestRecord } from './record.ts';

// GenAI conventions are still "development" in semantic-conventions 1.45: its README asks users
// to copy them rather than import the `incubating` entry point, which may break in minor releases.
const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';

/** `gen_ai.provider.name` well-known values by provider type; an OpenAI-compatible server speaks OpenAI's API. */
const GEN_AI_PROVIDER_NAME: ReadonlyMap<string, string> = new Map(
  Object.entries({
    openai: 'openai',
    'azure-openai': 'azure.ai.openai',
    bedrock: 'aws.bedrock',
    vertex: 'gcp.vertex_ai',
    gemini: 'gcp.gemini',
    anthropic: 'anthropic',
    'openai-compatible': 'openai',
  } satisfies Record<ProviderType, string>),
);

export interface Tracing {
  /**
   * `startMs`: epoch milliseconds. `traceparent`: the client's W3C header if any; when valid, the
   * request span becomes its child (an invalid one is ignored, as the W3C spec asks).
   */
  startRequest(info: {
    id: string;
    operation: Operation;
    model: string;
    traceparent?: string;
    startMs: number;
  }): RequestTrace;
  /** Exports every span still queued, then stops the exporter. */
  shutdown(): Promise<void>;
}

export interface RequestTrace {
  /** One span per upstream attempt, child of the request span. */
  startAttempt(info: {
    provider: string;
    providerType: string;
    deployment: string;
    startMs: number;
    hedge: boolean;
  }): AttemptTrace;
  /** Ends the request span (and any attempt span not ended yet) from the request's record. */
  end(record: RequestRecord): void;
}

export interface AttemptTrace {
  /**
   * The W3C `traceparent` to send upstream for this attempt: this attempt's span when tracing is
   * on; the client's own header when tracing is off; undefined when there is neither.
   */
  readonly traceparent: string | undefined;
  end(outcome: {
    outcome: string;
    status?: number;
    reason?: string;
    responseModel?: string;
    inputTokens?: number;
    outputTokens?: number;
    endMs: number;
  }): void;
}

export function createTracing(config: TelemetryConfig): Tracing {
  if (config.otlpEndpoint === undefined) return NO_TRACING;
  const exporter = new OTLPTraceExporter({
    url: `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`,
    headers: config.headers ?? {},
  });
  return new OtelTracing(exporter, config.serviceName);
}

/** Exported for tests that want another exporter; the gateway uses `createTracing`. */
export class OtelTracing implements Tracing {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private stopped: Promise<void> | undefined;

  constructor(exporter: SpanExporter, serviceName: string) {
    this.provider = new TracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })),
      spanProcessors: [new BatchSpanProcessor({ exporter: new DeferredExporter(exporter) })],
    });
    this.tracer = this.provider.getTracer('switchyard');
  }

  startRequest(info: Parameters<Tracing['startRequest']>[0]): RequestTrace {
    const parent =
      info.traceparent === undefined
        ? ROOT_CONTEXT
        : PROPAGATOR.extract(ROOT_CONTEXT, { traceparent: info.traceparent }, CARRIER_GETTER);
    const span = this.tracer.startSpan(
      `${info.operation} ${info.model}`,
      {
        kind: SpanKind.SERVER,
        startTime: hrTimeOf(info.startMs),
        attributes: {
          [ATTR_GEN_AI_OPERATION_NAME]: info.operation,
          [ATTR_GEN_AI_REQUEST_MODEL]: info.model,
          'switchyard.request_id': info.id,
        },
      },
      parent,
    );
    return new OtelRequestTrace(this.tracer, span, info.operation, info.id);
  }

  shutdown(): Promise<void> {
    this.stopped ??= this.provider.shutdown();
    return this.stopped;
  }
}

interface StartedAttempt {
  provider: string;
  providerType: string;
  deployment: string;
  trace: OtelAttemptTrace;
}

class OtelRequestTrace implements RequestTrace {
  private readonly attempts: StartedAttempt[] = [];
  private readonly tracer: Tracer;
  private readonly span: Span;
  private readonly context: Context;
  private readonly operation: Operation;
  private readonly requestId: string;
  private ended = false;

  constructor(tracer: Tracer, span: Span, operation: Operation, requestId: string) {
    this.tracer = tracer;
    this.span = span;
    this.context = trace.setSpan(ROOT_CONTEXT, span);
    this.operation = operation;
    this.requestId = requestId;
  }

  startAttempt(info: Parameters<RequestTrace['startAttempt']>[0]): AttemptTrace {
    const attributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: this.operation,
      [ATTR_GEN_AI_REQUEST_MODEL]: info.deployment,
      'switchyard.request_id': this.requestId,
      'switchyard.provider_id': info.provider,
      'switchyard.deployment': info.deployment,
      'switchyard.attempt.hedge': info.hedge,
    };
    const providerName = GEN_AI_PROVIDER_NAME.get(info.providerType);
    if (providerName !== undefined) attributes[ATTR_GEN_AI_PROVIDER_NAME] = providerName;
    const span = this.tracer.startSpan(
      `${this.operation} ${info.deployment}`,
      { kind: SpanKind.CLIENT, startTime: hrTimeOf(info.startMs), attributes },
      this.context,
    );
    const attempt = new OtelAttemptTrace(span);
    this.attempts.push({ ...info, trace: attempt });
    return attempt;
  }

  end(record: RequestRecord): void {
    if (this.ended) return;
    this.ended = true;
    const endMs = record.startedAtMs + record.latencyMs;
    // An attempt the request path never ended would otherwise be lost without a trace.
    for (const a of this.attempts) a.trace.end({ outcome: 'unfinished', endMs });

    const span = this.span;
    const served = this.attempts.findLast(
      (a) => a.provider === record.provider && a.deployment === record.deployment,
    );
    const providerName = served === undefined ? undefined : GEN_AI_PROVIDER_NAME.get(served.providerType);
    if (providerName !== undefined) span.setAttribute(ATTR_GEN_AI_PROVIDER_NAME, providerName);
    const responseModel = served?.trace.responseModel;
    if (responseModel !== undefined) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, responseModel);
    if (record.inputTokens !== null) span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, record.inputTokens);
    if (record.outputTokens !== null) span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, record.outputTokens);
    if (record.provider !== null) span.setAttribute('switchyard.provider_id', record.provider);
    if (record.deployment !== null) span.setAttribute('switchyard.deployment', record.deployment);
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, record.status);
    if (record.errorCode !== null) span.setAttribute(ATTR_ERROR_TYPE, record.errorCode);
    // Skipped deployments never got a span: an event on the request says why they were passed over.
    for (const a of record.attempts) {
      if (a.outcome !== 'skipped') continue;
      span.addEvent('switchyard.attempt.skipped', {
        'switchyard.provider_id': a.provider,
        'switchyard.deployment': a.deployment,
        'switchyard.attempt.reason': a.reason ?? a.kind ?? '',
      });
    }
    // HTTP server convention: a 4xx is the client's doing and leaves the status unset. A stream
    // that broke after it started is a 200 with an error code, and is an error.
    if (record.status >= 500 || (record.status < 400 && record.errorCode !== null)) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? `HTTP ${record.status}` });
    }
    span.end(hrTimeOf(endMs));
  }
}

class OtelAttemptTrace implements AttemptTrace {
  readonly traceparent: string | undefined;
  responseModel: string | undefined;
  private readonly span: Span;
  private ended = false;

  constructor(span: Span) {
    this.span = span;
    const carrier: { traceparent?: string } = {};
    PROPAGATOR.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, CARRIER_SETTER);
    this.traceparent = carrier.traceparent;
  }

  end(outcome: Parameters<AttemptTrace['end']>[0]): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    span.setAttribute('switchyard.attempt.outcome', outcome.outcome);
    if (outcome.status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.status);
    if (outcome.reason !== undefined) span.setAttribute('switchyard.attempt.reason', outcome.reason);
    if (outcome.responseModel !== undefined) {
      this.responseModel = outcome.responseModel;
      span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, outcome.responseModel);
    }
    if (outcome.inputTokens !== undefined)
      span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, outcome.inputTokens);
    if (outcome.outputTokens !== undefined) {
      span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, outcome.outputTokens);
    }
    if (outcome.outcome === 'failed') {
      // error.type must stay low-cardinality: the status code, not the free-text reason.
      span.setAttribute(ATTR_ERROR_TYPE, outcome.status === undefined ? '_OTHER' : String(outcome.status));
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason ?? 'failed' });
    }
    span.end(hrTimeOf(outcome.endMs));
  }
}

/**
 * The batch processor exports from inside `span.end()` when a batch fills up, and the OTLP
 * exporter serialises the whole batch before its first await. Deferring the export to the next
 * turn of the event loop keeps that work out of whichever request happened to end the 512th span.
 */
class DeferredExporter implements SpanExporter {
  private readonly inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.inner = inner;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    setImmediate(() => this.inner.export(spans, resultCallback));
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

// --- Tracing off: no spans, but the client's traceparent still travels upstream. ---

const NOOP_ATTEMPT: AttemptTrace = { traceparent: undefined, end() {} };

class PassThroughRequestTrace implements RequestTrace {
  private readonly attempt: AttemptTrace;

  constructor(traceparent: string) {
    this.attempt = { traceparent, end() {} };
  }

  startAttempt(): AttemptTrace {
    return this.attempt;
  }

  end(): void {}
}

const NOOP_REQUEST: RequestTrace = { startAttempt: () => NOOP_ATTEMPT, end() {} };

export const NO_TRACING: Tracing = {
  startRequest(info) {
    // Forwarded only when well-formed: a malformed header would break the upstream's trace too.
    if (info.traceparent === undefined || parseTraceParent(info.traceparent) === null) return NOOP_REQUEST;
    return new PassThroughRequestTrace(info.traceparent);
  },
  shutdown: () => Promise.resolve(),
};

// --- helpers ---

const PROPAGATOR = new W3CTraceContextPropagator();
type Carrier = { traceparent?: string };
const CARRIER_GETTER: TextMapGetter<Carrier> = {
  get: (carrier, key) => (key === 'traceparent' ? carrier.traceparent : undefined),
  keys: () => ['traceparent'],
};
const CARRIER_SETTER: TextMapSetter<Carrier> = {
  set: (carrier, key, value) => {
    if (key === 'traceparent') carrier.traceparent = value;
  },
};

/**
 * Epoch milliseconds as OpenTelemetry's [seconds, nanoseconds]. A plain number would be read as
 * a `performance.now()` offset whenever it is earlier than the process's start.
 */
function hrTimeOf(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.min(999_999_999, Math.round((epochMs - seconds * 1000) * 1e6))];
}

/** Tracing: spans exported over OTLP/HTTP to a receiver the test starts, and the no-op pass-through. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTracing, NO_TRACING, type Tracing } from '../../src/telemetry/tracing.ts';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.ts';
import { attempt, requestRecord } from './records.ts';

const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;
const TRACEPARENT_FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

const SPAN_KIND = { server: 2, client: 3 } as const;
const STATUS = { unset: 0, error: 2 } as const;

function only(spans: ReceivedSpan[], predicate: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `expected one matching span, got ${found.length}`);
  return found[0]!;
}

describe('tracing over OTLP/HTTP', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;

  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  function freshTracing(): Tracing {
    receiver.spans.length = 0;
    receiver.requestHeaders.length = 0;
    tracing = createTracing({
      otlpEndpoint: `${receiver.url}/`,
      serviceName: 'switchyard-test',
      headers: { 'x-collector-token': 'collector-secret' },
    });
    return tracing;
  }

  it('exports a request span with one child span per attempt, joined to the client trace', async () => {
    const t0 = Date.now();
    const request = freshTracing().startRequest({
      id: 'req-42',
      operation: 'chat',
      model: 'gpt-5',
      traceparent: CLIENT_TRACEPARENT,
      startMs: t0,
    });
    const first = request.startAttempt({
      provider: 'azure-eastus',
      providerType: 'azure-openai',
      deployment: 'gpt-5-prod',
      startMs: t0 + 2,
      hedge: false,
    });
    first.end({ outcome: 'failed', status: 503, reason: 'server: 503 from upstream', endMs: t0 + 120 });
    const second = request.startAttempt({
      provider: 'bedrock-us',
      providerType: 'bedrock',
      deployment: 'claude-sonnet',
      startMs: t0 + 121,
      hedge: false,
    });
    second.end({
      outcome: 'ok',
      status: 200,
      responseModel: 'claude-sonnet-4',
      inputTokens: 12,
      outputTokens: 34,
      endMs: t0 + 900,
    });
    request.end(
      requestRecord({
        id: 'req-42',
        startedAtMs: t0,
        latencyMs: 950,
        provider: 'bedrock-us',
        deployment: 'claude-sonnet',
        inputTokens: 12,
        outputTokens: 34,
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'failed', { status: 503, kind: 'server' }),
          attempt('bedrock-us', 'claude-sonnet', 'ok', { status: 200 }),
        ],
      }),
    );
    await tracing.shutdown(); // flushes: the spans are at the receiver when it resolves

    const spans = await receiver.waitForSpans(3, 0);
    assert.equal(spans.length, 3);
    const root = only(spans, (s) => s.kind === SPAN_KIND.server);
    const failed = only(
      spans,
      (s) => s.attributes['switchyard.provider_id'] === 'azure-eastus' && s !== root,
    );
    const served = only(spans, (s) => s.attributes['switchyard.provider_id'] === 'bedrock-us' && s !== root);

    // One trace, the client's; the request span is the child of the client's span.
    for (const s of spans) assert.equal(s.traceId, CLIENT_TRACE_ID);
    assert.equal(root.parentSpanId, CLIENT_SPAN_ID);
    assert.equal(failed.parentSpanId, root.spanId);
    assert.equal(served.parentSpanId, root.spanId);
    assert.equal(failed.kind, SPAN_KIND.client);

    // The header each attempt sends upstream names that attempt's own exported span.
    assert.equal(first.traceparent, `00-${CLIENT_TRACE_ID}-${failed.spanId}-01`);
    assert.equal(second.traceparent, `00-${CLIENT_TRACE_ID}-${served.spanId}-01`);

    assert.equal(root.name, 'chat gpt-5');
    assert.deepEqual(
      {
        op: root.attributes['gen_ai.operation.name'],
        provider: root.attributes['gen_ai.provider.name'],
        requestModel: root.attributes['gen_ai.request.model'],
        responseModel: root.attributes['gen_ai.response.model'],
        input: root.attributes['gen_ai.usage.input_tokens'],
        output: root.attributes['gen_ai.usage.output_tokens'],
        id: root.attributes['switchyard.request_id'],
        providerId: root.attributes['switchyard.provider_id'],
        status: root.attributes['http.response.status_code'],
      },
      {
        op: 'chat',
        provider: 'aws.bedrock',
        requestModel: 'gpt-5',
        responseModel: 'claude-sonnet-4',
        input: 12,
        output: 34,
        id: 'req-42',
        providerId: 'bedrock-us',
        status: 200,
      },
    );
    assert.equal(root.status.code, STATUS.unset);

    assert.equal(failed.name, 'chat gpt-5-prod');
    assert.equal(failed.attributes['gen_ai.provider.name'], 'azure.ai.openai');
    assert.equal(failed.attributes['gen_ai.request.model'], 'gpt-5-prod');
    assert.equal(failed.attributes['switchyard.attempt.outcome'], 'failed');
    assert.equal(failed.attributes['http.response.status_code'], 503);
    assert.equal(failed.attributes['error.type'], '503');
    assert.equal(failed.status.code, STATUS.error);
    assert.equal(failed.attributes['switchyard.request_id'], 'req-42');

    assert.equal(served.attributes['gen_ai.provider.name'], 'aws.bedrock');
    assert.equal(served.attributes['gen_ai.response.model'], 'claude-sonnet-4');
    assert.equal(served.attributes['gen_ai.usage.input_tokens'], 12);
    assert.equal(served.attributes['gen_ai.usage.output_tokens'], 34);
    assert.equal(served.attributes['switchyard.attempt.outcome'], 'ok');
    assert.equal(served.status.code, STATUS.unset);

    // Times are the ones the request path gave, in epoch nanoseconds.
    assert.equal(root.startTimeUnixNano, BigInt(t0) * 1_000_000n);
    assert.equal(root.endTimeUnixNano, BigInt(t0 + 950) * 1_000_000n);
    assert.equal(failed.endTimeUnixNano, BigInt(t0 + 120) * 1_000_000n);

    assert.equal(root.resource['service.name'], 'switchyard-test');
    assert.equal(receiver.requestHeaders[0]?.['x-collector-token'], 'collector-secret');
  });

  it('starts a new trace when the client sends no traceparent, or an invalid one', async () => {
    const t = freshTracing();
    for (const traceparent of [undefined, 'not-a-traceparent', `00-${'0'.repeat(32)}-${CLIENT_SPAN_ID}-01`]) {
      const request = t.startRequest({
        id: 'r',
        operation: 'embeddings',
        model: 'embed',
        traceparent,
        startMs: Date.now(),
      });
      const a = request.startAttempt({
        provider: 'openai',
        providerType: 'openai',
        deployment: 'text-embedding-3-small',
        startMs: Date.now(),
        hedge: false,
      });
      assert.match(a.traceparent ?? '', TRACEPARENT_FORMAT);
      assert.notEqual(a.traceparent?.slice(3, 35), CLIENT_TRACE_ID);
      a.end({ outcome: 'ok', status: 200, endMs: Date.now() });
      request.end(
        requestRecord({ operation: 'embeddings', model: 'embed', provider: 'openai', ttftMs: null }),
      );
    }
    await t.shutdown();
    const roots = receiver.spans.filter((s) => s.kind === SPAN_KIND.server);
    assert.equal(roots.length, 3);
    for (const root of roots) {
      assert.equal(root.parentSpanId, undefined);
      assert.equal(root.attributes['gen_ai.operation.name'], 'embeddings');
    }
    assert.equal(new Set(roots.map((r) => r.traceId)).size, 3);
  });

  it("respects the client's not-sampled flag: nothing exported, the trace id still goes upstream", async () => {
    const t = freshTracing();
    const request = t.startRequest({
      id: 'r',
      operation: 'chat',
      model: 'gpt-5',
      traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-00`,
      startMs: Date.now(),
    });
    const a = request.startAttempt({
      provider: 'openai',
      providerType: 'openai',
      deployment: 'gpt-5',
      startMs: Date.now(),
      hedge: false,
    });
    const [, traceId, , flags] = TRACEPARENT_FORMAT.exec(a.traceparent ?? '') ?? [];
    assert.equal(traceId, CLIENT_TRACE_ID);
    assert.equal(flags, '00');
    a.end({ outcome: 'ok', endMs: Date.now() });
    request.end(requestRecord());
    await t.shutdown();
    assert.equal(receiver.spans.length, 0);
  });

  it('marks failures: a 5xx and a stream broken after it started are errors, a 429 is not', async () => {
    const t = freshTracing();
    const cases = [
      { id: 'server-error', status: 502, errorCode: 'upstream_error', expected: STATUS.error },
      { id: 'broken-stream', status: 200, errorCode: 'upstream_error', expected: STATUS.error },
      { id: 'limited', status: 429, errorCode: 'rate_limit_exceeded', expected: STATUS.unset },
      { id: 'fine', status: 200, errorCode: null, expected: STATUS.unset },
    ];
    for (const c of cases) {
      t.startRequest({ id: c.id, operation: 'chat', model: 'gpt-5', startMs: Date.now() }).end(
        requestRecord({ id: c.id, status: c.status, errorCode: c.errorCode }),
      );
    }
    await t.shutdown();
    for (const c of cases) {
      const span = only(receiver.spans, (s) => s.attributes['switchyard.request_id'] === c.id);
      assert.equal(span.status.code, c.expected, c.id);
      assert.equal(span.attributes['error.type'], c.errorCode ?? undefined, c.id);
    }
  });

  it('records skipped deployments as events and ends attempt spans the request path left open', async () => {
    const t = freshTracing();
    const start = Date.now();
    const request = t.startRequest({ id: 'r', operation: 'chat', model: 'gpt-5', startMs: start });
    request.startAttempt({
      provider: 'openai',
      providerType: 'openai',
      deployment: 'gpt-5',
      startMs: start,
      hedge: true,
    });
    request.end(
      requestRecord({
        startedAtMs: start,
        latencyMs: 300,
        provider: 'openai',
        deployment: 'gpt-5',
        attempts: [
          attempt('azure-eastus', 'gpt-5-prod', 'skipped', {
            kind: 'capacity',
            reason: 'skipped: rpm 600/600',
          }),
          attempt('openai', 'gpt-5', 'ok'),
        ],
      }),
    );
    request.end(requestRecord()); // a second end is ignored
    await t.shutdown();
    assert.equal(receiver.spans.length, 2);
    const root = only(receiver.spans, (s) => s.kind === SPAN_KIND.server);
    assert.deepEqual(root.events, [
      {
        name: 'switchyard.attempt.skipped',
        attributes: {
          'switchyard.provider_id': 'azure-eastus',
          'switchyard.deployment': 'gpt-5-prod',
          'switchyard.attempt.reason': 'skipped: rpm 600/600',
        },
      },
    ]);
    const left = only(receiver.spans, (s) => s.kind === SPAN_KIND.client);
    assert.equal(left.attributes['switchyard.attempt.outcome'], 'unfinished');
    assert.equal(left.attributes['switchyard.attempt.hedge'], true);
    assert.equal(left.endTimeUnixNano, BigInt(start + 300) * 1_000_000n);
  });

  it('shutdown can be called twice', async () => {
    const t = freshTracing();
    await t.shutdown();
    await t.shutdown();
  });
});

describe('tracing off (no otlpEndpoint)', () => {
  it('is the no-op implementation', () => {
    assert.equal(createTracing({ serviceName: 'switchyard' }), NO_TRACING);
  });

  it("passes the client's traceparent upstream unchanged", () => {
    const request = NO_TRACING.startRequest({
      id: 'r',
      operation: 'chat',
      model: 'gpt-5',
      traceparent: CLIENT_TRACEPARENT,
      startMs: Date.now(),
    });
    const info = {
      provider: 'openai',
      providerType: 'openai',
      deployment: 'gpt-5',
      startMs: 0,
      hedge: false,
    };
    const first = request.startAttempt(info);
    const second = request.startAttempt({ ...info, hedge: true });
    assert.equal(first.traceparent, CLIENT_TRACEPARENT);
    assert.equal(second.traceparent, CLIENT_TRACEPARENT);
    first.end({ outcome: 'ok', endMs: 0 });
    request.end(requestRecord());
  });

  it('sends nothing upstream without a valid client traceparent, and allocates nothing per request', () => {
    const info = {
      provider: 'openai',
      providerType: 'openai',
      deployment: 'gpt-5',
      startMs: 0,
      hedge: false,
    };
    const absent = NO_TRACING.startRequest({ id: 'a', operation: 'chat', model: 'gpt-5', startMs: 0 });
    const invalid = NO_TRACING.startRequest({
      id: 'b',
      operation: 'chat',
      model: 'gpt-5',
      traceparent: `ff-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
      startMs: 0,
    });
    assert.equal(absent.startAttempt(info).traceparent, undefined);
    assert.equal(invalid.startAttempt(info).traceparent, undefined);
    // Shared objects: the off path creates no spans and no per-request state.
    assert.equal(absent, invalid);
    assert.equal(absent.startAttempt(info), invalid.startAttempt(info));
  });
});

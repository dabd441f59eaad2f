/** OpenAI-family upstream errors → UpstreamFailure, and retry-after parsing. */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { classifyOpenAIError, failureFromErrorBody } from '../../src/providers/openai/errors.ts';
import { retryAfterMsFromHeaders } from '../../src/providers/retry-after.ts';

const json = (value: unknown) => JSON.stringify(value);

const OPENAI_429_MESSAGE =
  'Rate limit reached for gpt-4o in organization org-abc123 on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits to learn more.';
const OPENAI_429 = json({
  error: { message: OPENAI_429_MESSAGE, type: 'tokens', param: null, code: 'rate_limit_exceeded' },
});

describe('classifyOpenAIError: throttling', () => {
  it('OpenAI 429 with retry-after-ms', () => {
    assert.deepEqual(classifyOpenAIError(429, { 'retry-after-ms': '644', 'retry-after': '1' }, OPENAI_429), {
      kind: 'throttled',
      retryable: true,
      status: 429,
      message: OPENAI_429_MESSAGE,
      retryAfterMs: 644,
    });
  });

  it('OpenAI 429 with retry-after in seconds', () => {
    assert.equal(classifyOpenAIError(429, { 'retry-after': '20' }, OPENAI_429).retryAfterMs, 20_000);
  });

  it('429 with retry-after as an HTTP date already past: wait 0', () => {
    assert.equal(
      classifyOpenAIError(429, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }, OPENAI_429).retryAfterMs,
      0,
    );
  });

  it('429 without retry headers: no retryAfterMs at all', () => {
    assert.equal('retryAfterMs' in classifyOpenAIError(429, {}, OPENAI_429), false);
  });

  it('insufficient_quota is a 429 too', () => {
    const body = json({
      error: {
        message: 'You exceeded your current quota, please check your plan and billing details.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    });
    const failure = classifyOpenAIError(429, {}, body);
    assert.equal(failure.kind, 'throttled');
    assert.equal(failure.clientError, undefined);
  });

  it('Azure 429: code is the string "429", no type or param; retry-after-ms preferred', () => {
    const message =
      'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.';
    const headers: IncomingHttpHeaders = {
      'retry-after': '6',
      'retry-after-ms': '5820',
      'x-ms-region': 'East US',
      'apim-request-id': '5b3c2f3e-0000-4000-8000-000000000000',
    };
    assert.deepEqual(classifyOpenAIError(429, headers, json({ error: { code: '429', message } })), {
      kind: 'throttled',
      retryable: true,
      status: 429,
      message,
      retryAfterMs: 5820,
    });
  });
});

describe('classifyOpenAIError: client errors pass through', () => {
  it('Azure content_filter 400 keeps innererror (content_filter_result, singular) in clientError.extra', () => {
    const innererror = {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: { filtered: false, severity: 'safe' },
        jailbreak: { filtered: true, detected: true },
        self_harm: { filtered: false, severity: 'safe' },
        sexual: { filtered: true, severity: 'high' },
        violence: { filtered: false, severity: 'safe' },
      },
    };
    const message =
      "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766";
    const body = json({
      error: { message, type: null, param: 'prompt', code: 'content_filter', status: 400, innererror },
    });
    assert.deepEqual(classifyOpenAIError(400, { 'x-ms-region': 'East US' }, body), {
      kind: 'content_filter',
      retryable: false,
      status: 400,
      message,
      clientError: { message, type: null, param: 'prompt', code: 'content_filter', extra: { innererror } },
    });
  });

  it('OpenAI 400 unsupported_parameter: message, type, param and code kept for the client', () => {
    const message =
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.";
    const body = json({
      error: { message, type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter' },
    });
    assert.deepEqual(classifyOpenAIError(400, {}, body), {
      kind: 'client',
      retryable: false,
      status: 400,
      message,
      clientError: {
        message,
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    });
  });

  it('context_length_exceeded, 413 and 422 are client errors', () => {
    const body = json({
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    });
    assert.equal(classifyOpenAIError(400, {}, body).clientError?.code, 'context_length_exceeded');
    assert.equal(classifyOpenAIError(413, {}, body).kind, 'client');
    assert.equal(classifyOpenAIError(422, {}, body).kind, 'client');
  });

  it('vLLM old top-level error shape (no wrapper, integer code)', () => {
    const message =
      "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.";
    const body = json({ object: 'error', message, type: 'BadRequestError', param: null, code: 400 });
    assert.deepEqual(classifyOpenAIError(400, {}, body), {
      kind: 'client',
      retryable: false,
      status: 400,
      message,
      clientError: { message, type: 'BadRequestError', param: null, code: '400' },
    });
  });

  it('vLLM wrapped shape with an integer code', () => {
    const body = json({
      error: {
        message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
        type: 'BadRequestError',
        param: null,
        code: 400,
      },
    });
    assert.deepEqual(classifyOpenAIError(400, {}, body).clientError, {
      message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
      type: 'BadRequestError',
      param: null,
      code: '400',
    });
  });

  it('a non-JSON 400 body still gives an OpenAI-shaped client error', () => {
    assert.deepEqual(classifyOpenAIError(400, {}, '<html><body>Bad Request</body></html>'), {
      kind: 'client',
      retryable: false,
      status: 400,
      message: 'upstream answered 400',
      clientError: {
        message: 'upstream answered 400',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  });
});

describe('classifyOpenAIError: deployment problems and server failures', () => {
  it('401 and 403 → auth (retryable elsewhere), with no clientError', () => {
    const body = json({
      error: {
        message:
          'Incorrect API key provided: sk-unit****0001. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    for (const status of [401, 403]) {
      const failure = classifyOpenAIError(status, {}, body);
      assert.equal(failure.kind, 'auth', String(status));
      assert.equal(failure.retryable, true);
      assert.equal(failure.clientError, undefined);
    }
  });

  it('404 → not_found (retryable elsewhere)', () => {
    const body = json({
      error: {
        message: 'The model `gpt-9` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
    assert.deepEqual(classifyOpenAIError(404, {}, body), {
      kind: 'not_found',
      retryable: true,
      status: 404,
      message: 'The model `gpt-9` does not exist or you do not have access to it.',
    });
  });

  it('Azure DeploymentNotFound 404', () => {
    const body = json({
      error: {
        code: 'DeploymentNotFound',
        message:
          'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
      },
    });
    assert.equal(classifyOpenAIError(404, {}, body).kind, 'not_found');
  });

  it('500 → server, 502 → server, 503 → overloaded (with retry-after), 529 → overloaded, 408 → timeout', () => {
    const serverError = json({
      error: {
        message: 'The server had an error while processing your request. Sorry about that!',
        type: 'server_error',
        param: null,
        code: null,
      },
    });
    assert.deepEqual(classifyOpenAIError(500, {}, serverError), {
      kind: 'server',
      retryable: true,
      status: 500,
      message: 'The server had an error while processing your request. Sorry about that!',
    });
    assert.deepEqual(classifyOpenAIError(502, {}, '<html>502 Bad Gateway</html>'), {
      kind: 'server',
      retryable: true,
      status: 502,
      message: 'upstream answered 502',
    });
    const overloaded = json({
      error: {
        message: 'The engine is currently overloaded, please try again later.',
        type: 'service_unavailable_error',
        param: null,
        code: 'server_is_overloaded',
      },
    });
    assert.deepEqual(classifyOpenAIError(503, { 'retry-after': '2' }, overloaded), {
      kind: 'overloaded',
      retryable: true,
      status: 503,
      message: 'The engine is currently overloaded, please try again later.',
      retryAfterMs: 2000,
    });
    assert.equal(classifyOpenAIError(529, {}, '').kind, 'overloaded');
    assert.equal(classifyOpenAIError(408, {}, '').kind, 'timeout');
  });

  it('an error given as a plain string (Ollama native style) is the message', () => {
    const failure = classifyOpenAIError(
      404,
      {},
      json({ error: 'model "llama9" not found, try pulling it first' }),
    );
    assert.equal(failure.kind, 'not_found');
    assert.equal(failure.message, 'model "llama9" not found, try pulling it first');
  });

  it('long upstream messages are cut to 500 characters', () => {
    const failure = classifyOpenAIError(500, {}, json({ error: { message: 'x'.repeat(2000) } }));
    assert.equal(failure.message.length, 500);
  });
});

describe('failureFromErrorBody', () => {
  it('a content_filter code is a content filter whatever the status', () => {
    const failure = failureFromErrorBody({ error: { message: 'filtered', code: 'content_filter' } }, 200);
    assert.equal(failure.kind, 'content_filter');
    assert.equal(failure.retryable, false);
  });

  it('no body at all', () => {
    assert.deepEqual(failureFromErrorBody(undefined, 503), {
      kind: 'overloaded',
      retryable: true,
      status: 503,
      message: 'upstream answered 503',
    });
  });
});

describe('retryAfterMsFromHeaders', () => {
  const now = Date.parse('2026-08-22T12:00:00Z');

  it('retry-after-ms first, rounded up', () => {
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': '1500', 'retry-after': '9' }, now), 1500);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': '1500.2' }, now), 1501);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': '0' }, now), 0);
  });

  it('retry-after in seconds (fractions allowed)', () => {
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '6' }, now), 6000);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '0.25' }, now), 250);
  });

  it('retry-after as an HTTP date, against the injected now', () => {
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': 'Sat, 22 Aug 2026 12:00:30 GMT' }, now), 30_000);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': 'Sat, 22 Aug 2026 11:59:00 GMT' }, now), 0);
  });

  it('an unusable retry-after-ms falls back to retry-after', () => {
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': 'abc', 'retry-after': '2' }, now), 2000);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': '-5', 'retry-after': '2' }, now), 2000);
  });

  it('absent or garbage values answer undefined', () => {
    assert.equal(retryAfterMsFromHeaders({}, now), undefined);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '' }, now), undefined);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': 'soon' }, now), undefined);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '12abc' }, now), undefined);
  });

  it('an empty retry-after-ms, a negative retry-after and a blank one are nonsensical too', () => {
    assert.equal(retryAfterMsFromHeaders({ 'retry-after-ms': '', 'retry-after': '6' }, now), 6000);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '-1' }, now), undefined);
    assert.equal(retryAfterMsFromHeaders({ 'retry-after': '  ' }, now), undefined);
  });
});

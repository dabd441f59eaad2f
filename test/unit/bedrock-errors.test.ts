/** Bedrock error classification (AWS Bedrock API reference: Non-streaming errors): name from x-amzn-ErrorType, `code` or `__type`; kind; retry-after. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyBedrockError, errorTypeName } from '../../src/providers/bedrock/errors.ts';

const CORAL = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
const typed = (name: string) => ({ 'x-amzn-errortype': `${name}${CORAL}`, 'x-amzn-requestid': 'r-1' });
const body = (message: string) => JSON.stringify({ message });

describe('classifyBedrockError', () => {
  const table: [number, string, string, boolean][] = [
    [429, 'ThrottlingException', 'throttled', true],
    [429, 'ModelNotReadyException', 'overloaded', true],
    [503, 'ServiceUnavailableException', 'overloaded', true],
    [500, 'InternalServerException', 'server', true],
    [424, 'ModelErrorException', 'server', true],
    [408, 'ModelTimeoutException', 'timeout', true],
    [400, 'ServiceQuotaExceededException', 'throttled', true],
    [403, 'AccessDeniedException', 'auth', true],
    [403, 'UnrecognizedClientException', 'auth', true],
    [403, 'InvalidSignatureException', 'auth', true],
    [403, 'ExpiredTokenException', 'auth', true],
    [404, 'ResourceNotFoundException', 'not_found', true],
    [400, 'ValidationException', 'client', false],
  ];
  for (const [status, name, kind, retryable] of table) {
    it(`${status} ${name} → ${kind}`, () => {
      const failure = classifyBedrockError(status, typed(name), body('why'));
      assert.equal(failure.kind, kind);
      assert.equal(failure.retryable, retryable);
      assert.equal(failure.status, status);
      assert.equal(failure.message, `${name}: why`);
    });
  }

  it('a ValidationException reaches the client as a 400 with Bedrock message and the exception as code', () => {
    const message = 'A conversation must alternate between user and assistant roles.';
    const failure = classifyBedrockError(400, typed('ValidationException'), body(message));
    assert.deepEqual(failure.clientError, {
      message,
      type: 'invalid_request_error',
      param: null,
      code: 'ValidationException',
    });
  });

  it('a ValidationException about the model id is this deployment misconfigured, so another may serve', () => {
    for (const message of [
      'The provided model identifier is invalid.',
      "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
    ]) {
      const failure = classifyBedrockError(400, typed('ValidationException'), body(message));
      assert.equal(failure.kind, 'not_found');
      assert.equal(failure.retryable, true);
      assert.equal(failure.clientError, undefined);
    }
  });

  it('without the header the body `code` or `__type` names the error; `Message` is read too', () => {
    assert.equal(
      classifyBedrockError(
        400,
        {},
        JSON.stringify({ __type: 'com.amazon.coral.service#ThrottlingException', Message: 'slow' }),
      ).kind,
      'throttled',
    );
    const fromCode = classifyBedrockError(
      400,
      {},
      JSON.stringify({ code: 'AccessDeniedException', message: 'no' }),
    );
    assert.equal(fromCode.kind, 'auth');
    assert.equal(fromCode.message, 'AccessDeniedException: no');
  });

  it('an unnamed error falls back to its status; a body that is not JSON still classifies', () => {
    assert.equal(classifyBedrockError(429, {}, '').kind, 'throttled');
    assert.equal(classifyBedrockError(502, {}, '<html>bad gateway</html>').kind, 'server');
    assert.equal(classifyBedrockError(503, {}, '').kind, 'overloaded');
    assert.equal(classifyBedrockError(418, {}, '').kind, 'client');
  });

  it('retry-after is kept when sent (Bedrock usually sends none)', () => {
    assert.equal(
      classifyBedrockError(429, { ...typed('ThrottlingException'), 'retry-after': '2' }, body('x'))
        .retryAfterMs,
      2000,
    );
    assert.equal(classifyBedrockError(429, typed('ThrottlingException'), body('x')).retryAfterMs, undefined);
  });

  it('long messages are cut to keep log lines short', () => {
    const failure = classifyBedrockError(400, typed('ValidationException'), body('x'.repeat(2000)));
    assert.ok(failure.message.length < 600);
  });
});

describe('errorTypeName', () => {
  it('reads every spelling the SDK accepts', () => {
    assert.equal(errorTypeName(`ThrottlingException${CORAL}`), 'ThrottlingException');
    assert.equal(errorTypeName('com.amazon.coral.validate#ValidationException'), 'ValidationException');
    assert.equal(errorTypeName('aws.protocoltests#ThrottlingException:http://x'), 'ThrottlingException');
    assert.equal(errorTypeName(''), undefined);
  });
});

/** Classification of Anthropic error answers (Anthropic API reference: Errors) into routing failures. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyAnthropicError } from '../../src/providers/anthropic/errors.ts';

const envelope = (type: string, message: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'error',
    error: { type, message, ...extra },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  });

describe('classifyAnthropicError', () => {
  it('maps each documented status and error type', () => {
    const cases: [number, string, string, boolean][] = [
      [400, 'invalid_request_error', 'client', false],
      [401, 'authentication_error', 'auth', true],
      [402, 'billing_error', 'auth', true],
      [403, 'permission_error', 'auth', true],
      [404, 'not_found_error', 'not_found', true],
      [413, 'request_too_large', 'client', false],
      [429, 'rate_limit_error', 'throttled', true],
      [500, 'api_error', 'server', true],
      [504, 'timeout_error', 'timeout', true],
      [529, 'overloaded_error', 'overloaded', true],
    ];
    for (const [status, type, kind, retryable] of cases) {
      const failure = classifyAnthropicError(status, {}, envelope(type, `${type} happened`));
      assert.equal(failure.kind, kind, type);
      assert.equal(failure.retryable, retryable, type);
      assert.equal(failure.status, status);
      assert.equal(failure.message, `${type} happened (request req_011CSHoEeqs5C35K2UUqR7Fy)`);
    }
  });

  it("passes a client error through with Anthropic's message (no request id) and the type as code", () => {
    const bad = classifyAnthropicError(
      400,
      {},
      envelope('invalid_request_error', 'max_tokens: Field required'),
    );
    assert.deepEqual(bad.clientError, {
      message: 'max_tokens: Field required',
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    const large = classifyAnthropicError(
      413,
      {},
      envelope('request_too_large', 'Request exceeds the maximum size'),
    );
    assert.equal(large.clientError?.code, 'request_too_large');
  });

  it('reads retry-after on a 429; a spent monthly limit is not worth waiting for', () => {
    const throttled = classifyAnthropicError(
      429,
      { 'retry-after': '7' },
      envelope('rate_limit_error', 'slow down'),
    );
    assert.equal(throttled.retryAfterMs, 7000);
    const spent = classifyAnthropicError(
      429,
      {},
      envelope('rate_limit_error', 'spend limit reached', {
        details: { error_code: 'enforced_spend_limit_reached' },
      }),
    );
    assert.equal(spent.kind, 'auth');
  });

  it('falls back on the status for bodies that are not Anthropic envelopes', () => {
    assert.equal(classifyAnthropicError(413, {}, '<html>413 Request Entity Too Large</html>').kind, 'client');
    assert.equal(classifyAnthropicError(502, {}, 'Bad gateway').kind, 'server');
    assert.equal(classifyAnthropicError(503, {}, '').kind, 'overloaded');
    assert.equal(classifyAnthropicError(418, {}, '').message, 'upstream answered 418');
  });
});

/**
 * Google error envelopes → failure kinds (Gemini API and Vertex AI reference: Errors): the canonical status decides, RetryInfo gives
 * retry-after, a wrong Gemini API key (400 + API_KEY_INVALID) is an auth problem, not a client one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyGoogleError, durationToMs } from '../../src/providers/google/errors.ts';
import { fixtureBytes } from './helpers.ts';

const text = (name: string) => new TextDecoder().decode(fixtureBytes(`google/${name}`));
const envelope = (code: number, status: string, message = 'm') =>
  JSON.stringify({ error: { code, message, status } });

describe('google errors', () => {
  it('429 RESOURCE_EXHAUSTED → throttled, retry-after from RetryInfo.retryDelay', () => {
    const failure = classifyGoogleError(429, {}, text('gemini-429.json'));
    assert.equal(failure.kind, 'throttled');
    assert.equal(failure.retryable, true);
    assert.equal(failure.retryAfterMs, 34_400);
    assert.equal(failure.clientError, undefined);
    assert.match(failure.message, /exceeded your current quota/);
  });

  it('a retry-after header is used when the body has no RetryInfo', () => {
    const failure = classifyGoogleError(429, { 'retry-after': '7' }, envelope(429, 'RESOURCE_EXHAUSTED'));
    assert.equal(failure.retryAfterMs, 7000);
  });

  it('each canonical status has its kind', () => {
    const table: [number, string, string, boolean][] = [
      [400, 'INVALID_ARGUMENT', 'client', false],
      [400, 'FAILED_PRECONDITION', 'client', false],
      [401, 'UNAUTHENTICATED', 'auth', true],
      [403, 'PERMISSION_DENIED', 'auth', true],
      [404, 'NOT_FOUND', 'not_found', true],
      [429, 'RESOURCE_EXHAUSTED', 'throttled', true],
      [500, 'INTERNAL', 'server', true],
      [503, 'UNAVAILABLE', 'overloaded', true],
      [504, 'DEADLINE_EXCEEDED', 'timeout', true],
    ];
    for (const [status, canonical, kind, retryable] of table) {
      const failure = classifyGoogleError(status, {}, envelope(status, canonical));
      assert.equal(failure.kind, kind, canonical);
      assert.equal(failure.retryable, retryable, canonical);
      assert.equal(failure.status, status, canonical);
    }
  });

  it('client errors pass through with Google message and canonical status as the code', () => {
    const failure = classifyGoogleError(400, {}, text('vertex-400-unknown-field.json'));
    assert.equal(failure.kind, 'client');
    assert.deepEqual(failure.clientError, {
      message:
        'Invalid JSON payload received. Unknown name "id" at \'contents[1].parts[0].function_call\': Cannot find field.',
      type: 'invalid_request_error',
      param: null,
      code: 'INVALID_ARGUMENT',
    });
  });

  it('a wrong Gemini API key (400 INVALID_ARGUMENT + API_KEY_INVALID) is auth, not the client’s fault', () => {
    const failure = classifyGoogleError(400, {}, text('gemini-api-key-invalid.json'));
    assert.equal(failure.kind, 'auth');
    assert.equal(failure.retryable, true);
    assert.equal(failure.clientError, undefined);
  });

  it('bodies without the envelope fall back to the HTTP status; the array form is read', () => {
    assert.equal(classifyGoogleError(502, {}, '<html>bad gateway</html>').kind, 'server');
    assert.equal(classifyGoogleError(503, {}, '').kind, 'overloaded');
    assert.equal(classifyGoogleError(404, {}, '<!DOCTYPE html>').kind, 'not_found');
    assert.equal(classifyGoogleError(429, {}, `[${envelope(429, 'RESOURCE_EXHAUSTED')}]`).kind, 'throttled');
    assert.equal(classifyGoogleError(400, {}, 'nope').kind, 'client');
  });

  it('long messages are cut for logs', () => {
    const failure = classifyGoogleError(500, {}, envelope(500, 'INTERNAL', 'x'.repeat(2000)));
    assert.equal(failure.message.length, 500);
  });

  it('Duration strings', () => {
    assert.equal(durationToMs('34.4s'), 34_400);
    assert.equal(durationToMs('1s'), 1000);
    assert.equal(durationToMs('0.0015s'), 2);
    assert.equal(durationToMs('5m'), undefined);
    assert.equal(durationToMs(5), undefined);
  });
});

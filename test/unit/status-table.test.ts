/**
 * One HTTP status table for every cloud (src/providers/shared/status.ts): a bare status, as a proxy
 * or load balancer sends it in front of any cloud, gets the same failure kind from each cloud's
 * classifier; a 3xx is a misconfigured deployment (`redirect`, retryable), never the caller's fault,
 * and its message never echoes the Location's query string.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { classifyAnthropicError } from '../../src/providers/anthropic/errors.ts';
import { classifyBedrockError } from '../../src/providers/bedrock/errors.ts';
import { classifyGoogleError } from '../../src/providers/google/errors.ts';
import { classifyOpenAIError, failureFromErrorBody } from '../../src/providers/openai/errors.ts';
import type { FailureKind, UpstreamFailure } from '../../src/providers/types.ts';

type Classifier = (status: number, headers: IncomingHttpHeaders, body: string) => UpstreamFailure;

/** Every cloud's classifier; OpenAI's serves Azure and OpenAI-compatible servers, Google's Gemini and Vertex. */
const CLASSIFIERS: Record<string, Classifier> = {
  'OpenAI / Azure / OpenAI-compatible': classifyOpenAIError,
  Anthropic: classifyAnthropicError,
  Bedrock: classifyBedrockError,
  'Gemini / Vertex': classifyGoogleError,
};

/** Written out, not computed from the table under test. */
const EXPECTED: [status: number, kind: FailureKind][] = [
  [301, 'redirect'],
  [302, 'redirect'],
  [303, 'redirect'],
  [307, 'redirect'],
  [308, 'redirect'],
  [400, 'client'],
  [401, 'auth'],
  [402, 'auth'],
  [403, 'auth'],
  [404, 'not_found'],
  [405, 'client'],
  [408, 'timeout'],
  [409, 'client'],
  [413, 'client'],
  [422, 'client'],
  [424, 'server'],
  [429, 'throttled'],
  [500, 'server'],
  [501, 'server'],
  [502, 'server'],
  [503, 'overloaded'],
  [504, 'timeout'],
  [529, 'overloaded'],
];

const PROXY_PAGE = '<html><head><title>Bad Gateway</title></head><body>nginx</body></html>';

describe('one status table for every cloud', () => {
  for (const [status, kind] of EXPECTED) {
    it(`HTTP ${status} → ${kind}, whichever cloud answered`, () => {
      for (const [cloud, classify] of Object.entries(CLASSIFIERS)) {
        for (const body of ['', PROXY_PAGE]) {
          const failure = classify(status, {}, body);
          assert.equal(failure.kind, kind, `${cloud}, body ${JSON.stringify(body.slice(0, 12))}`);
          assert.equal(failure.status, status, cloud);
          // Only the request's own fault stops failover.
          assert.equal(failure.retryable, kind !== 'client', `${cloud}: retryable`);
        }
      }
    });
  }
});

describe('a 3xx is a misconfigured deployment', () => {
  /** What each cloud's own error body looks like, to show a redirect wins over whatever a body says. */
  const NATIVE_BODIES: Record<string, string> = {
    'OpenAI / Azure / OpenAI-compatible': JSON.stringify({
      error: { message: 'bad', type: 'invalid_request_error', param: null, code: null },
    }),
    Anthropic: JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'x' } }),
    Bedrock: JSON.stringify({ message: 'x' }),
    'Gemini / Vertex': JSON.stringify({ error: { code: 400, message: 'x', status: 'INVALID_ARGUMENT' } }),
  };

  it('every cloud: retryable `redirect`, never a client error, whatever the body says', () => {
    for (const [cloud, classify] of Object.entries(CLASSIFIERS)) {
      const headers = { location: 'https://api.example.com/v1/chat/completions' };
      const failure = classify(301, headers, NATIVE_BODIES[cloud] ?? '');
      assert.equal(failure.kind, 'redirect', cloud);
      assert.equal(failure.retryable, true, cloud);
      assert.equal(failure.clientError, undefined, cloud);
      assert.equal(
        failure.message,
        "the upstream redirected (HTTP 301 to https://api.example.com/v1/chat/completions): check the deployment's endpoint",
        cloud,
      );
    }
  });

  it('the Location is shown without query, fragment or user info (they may hold a credential)', () => {
    const headers = {
      location: 'https://user:pa55@gen.example.com:8443/v1beta/models/m:generateContent?key=AIzaSECRET#frag',
    };
    for (const [cloud, classify] of Object.entries(CLASSIFIERS)) {
      const { message } = classify(307, headers, '');
      assert.match(
        message,
        /HTTP 307 to https:\/\/gen\.example\.com:8443\/v1beta\/models\/m:generateContent\)/,
        cloud,
      );
      for (const secret of ['AIzaSECRET', 'pa55', 'user', 'frag', '?']) {
        assert.equal(message.includes(secret), false, `${cloud} leaks ${secret}: ${message}`);
      }
    }
  });

  it('a relative Location shows its path; a missing or unparsable one is left out', () => {
    assert.match(
      classifyOpenAIError(302, { location: '/login?next=/v1&token=abc' }, '').message,
      /^the upstream redirected \(HTTP 302 to \/login\): check the deployment's endpoint$/,
    );
    assert.equal(
      classifyAnthropicError(308, {}, '').message,
      "the upstream redirected (HTTP 308): check the deployment's endpoint",
    );
    assert.equal(
      classifyBedrockError(301, { location: 'http://[bad' }, '').message,
      "the upstream redirected (HTTP 301): check the deployment's endpoint",
    );
  });
});

describe('cloud refinements stay on top of the table', () => {
  it('OpenAI content_filter, Anthropic error types, Bedrock exception names, Google canonical status', () => {
    const filtered = JSON.stringify({
      error: { message: 'f', code: 'content_filter', type: null, param: 'prompt' },
    });
    assert.equal(classifyOpenAIError(400, {}, filtered).kind, 'content_filter');
    const overloaded = JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'o' } });
    assert.equal(classifyAnthropicError(529, {}, overloaded).kind, 'overloaded');
    assert.equal(
      classifyBedrockError(
        400,
        { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/' },
        '{}',
      ).kind,
      'throttled',
    );
    const exhausted = JSON.stringify({ error: { code: 429, message: 'q', status: 'RESOURCE_EXHAUSTED' } });
    assert.equal(classifyGoogleError(429, {}, exhausted).kind, 'throttled');
  });

  it('an in-band OpenAI-family error whose code is an HTTP status reads it through the table', () => {
    // Azure's `"code": "429"` and vLLM's integer codes, inside a 200 stream.
    assert.equal(
      failureFromErrorBody({ error: { code: '429', message: 'slow down' } }, 200).kind,
      'throttled',
    );
    assert.equal(
      failureFromErrorBody({ error: { code: 503, message: 'busy', type: 'x' } }, 200).kind,
      'overloaded',
    );
    assert.equal(failureFromErrorBody({ error: { code: '500', message: 'oops' } }, 200).kind, 'server');
  });
});

/**
 * Capacity headers for routing: OpenAI's and Azure's `x-ratelimit-*` (Go durations), Anthropic's
 * `anthropic-ratelimit-*` (RFC 3339 resets) → CapacitySignal, on header fixtures shaped like the
 * clouds' answers; malformed values read as absent, never as a number.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAnthropicCapacity } from '../../src/providers/anthropic/capacity.ts';
import { readOpenAICapacity } from '../../src/providers/openai/capacity.ts';
import { parseGoDuration, parseRfc3339 } from '../../src/providers/shared/capacity.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('OpenAI durations', () => {
  it('Go-style durations → milliseconds', () => {
    const table: [string, number][] = [
      ['1s', 1000],
      ['6m0s', 360_000],
      ['20ms', 20],
      ['1h2m3.5s', 3_723_500],
      ['0s', 0],
      ['17.28s', 17_280],
      ['1m30.5s', 90_500],
      ['1.5ms', 2],
      ['500us', 1],
      ['2h', 7_200_000],
      // Some OpenAI-compatible servers send bare seconds.
      ['7', 7000],
      ['0.25', 250],
    ];
    for (const [text, ms] of table) assert.equal(parseGoDuration(text), ms, text);
  });

  it('anything else is absent, not zero', () => {
    for (const text of ['', 's', '1x', '-1s', '1 s', '6m0', 'm5', 'soon', '1e3s', '1s ', 'NaN']) {
      assert.equal(parseGoDuration(text), undefined, JSON.stringify(text));
    }
    assert.equal(parseGoDuration(undefined), undefined);
  });
});

describe('RFC 3339 times', () => {
  it('UTC, offsets and fractions', () => {
    assert.equal(parseRfc3339('2026-03-01T12:00:42Z'), NOW + 42_000);
    assert.equal(parseRfc3339('2026-03-01T13:00:42.5+01:00'), NOW + 42_500);
    assert.equal(parseRfc3339('2026-03-01t12:00:42z'), NOW + 42_000);
  });

  it('dates without a zone, HTTP dates and numbers are absent', () => {
    for (const text of ['2026-03-01T12:00:42', 'Sun, 01 Mar 2026 12:00:42 GMT', '1772366442', '2026-03-01']) {
      assert.equal(parseRfc3339(text), undefined, text);
    }
  });
});

describe('readOpenAICapacity', () => {
  it('OpenAI: all six headers', () => {
    const headers = {
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-limit-tokens': '30000000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-remaining-tokens': '29999000',
      'x-ratelimit-reset-requests': '6ms',
      'x-ratelimit-reset-tokens': '6m0s',
    };
    assert.deepEqual(readOpenAICapacity(headers, NOW), {
      remainingRequests: 9999,
      remainingTokens: 29_999_000,
      requestsResetAtMs: NOW + 6,
      tokensResetAtMs: NOW + 360_000,
      limitRequests: 10_000,
      limitTokens: 30_000_000,
    });
  });

  it('Azure: limits and remaining, no reset headers', () => {
    const headers = {
      'apim-request-id': 'x',
      'x-ratelimit-limit-requests': '1000',
      'x-ratelimit-limit-tokens': '1000000',
      'x-ratelimit-remaining-requests': '999',
      'x-ratelimit-remaining-tokens': '998500',
    };
    assert.deepEqual(readOpenAICapacity(headers, NOW), {
      remainingRequests: 999,
      remainingTokens: 998_500,
      limitRequests: 1000,
      limitTokens: 1_000_000,
    });
  });

  it('no such headers (vLLM): undefined; malformed values are left out', () => {
    assert.equal(readOpenAICapacity({ 'content-type': 'application/json' }, NOW), undefined);
    // Without a readable remaining count there is nothing for routing to act on.
    assert.equal(
      readOpenAICapacity(
        {
          'x-ratelimit-remaining-requests': '-1',
          'x-ratelimit-remaining-tokens': '12.5',
          'x-ratelimit-reset-requests': 'later',
          'x-ratelimit-limit-requests': ['60', '70'],
        },
        NOW,
      ),
      undefined,
    );
    assert.deepEqual(
      readOpenAICapacity(
        {
          'x-ratelimit-remaining-requests': '3',
          'x-ratelimit-reset-requests': 'later',
          'x-ratelimit-limit-requests': ['60', '70'],
        },
        NOW,
      ),
      { remainingRequests: 3, limitRequests: 60 },
    );
  });
});

describe('readAnthropicCapacity', () => {
  const reset = '2026-03-01T12:00:30Z';
  it('requests and the combined tokens trio', () => {
    const headers = {
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': '2026-03-01T12:00:01Z',
      'anthropic-ratelimit-tokens-limit': '2000000',
      'anthropic-ratelimit-tokens-remaining': '1999000',
      'anthropic-ratelimit-tokens-reset': reset,
      'anthropic-ratelimit-input-tokens-limit': '1600000',
      'anthropic-ratelimit-input-tokens-remaining': '1600000',
      'anthropic-ratelimit-input-tokens-reset': reset,
      'anthropic-ratelimit-output-tokens-limit': '400000',
      'anthropic-ratelimit-output-tokens-remaining': '399000',
      'anthropic-ratelimit-output-tokens-reset': reset,
    };
    assert.deepEqual(readAnthropicCapacity(headers, NOW), {
      remainingRequests: 3999,
      remainingTokens: 1_999_000,
      requestsResetAtMs: NOW + 1000,
      tokensResetAtMs: NOW + 30_000,
      limitRequests: 4000,
      limitTokens: 2_000_000,
    });
  });

  it('without the combined trio, the input or output side with less remaining stands for tokens', () => {
    const headers = {
      'anthropic-ratelimit-input-tokens-limit': '80000',
      'anthropic-ratelimit-input-tokens-remaining': '79000',
      'anthropic-ratelimit-input-tokens-reset': '2026-03-01T12:00:05Z',
      'anthropic-ratelimit-output-tokens-limit': '16000',
      'anthropic-ratelimit-output-tokens-remaining': '1200',
      'anthropic-ratelimit-output-tokens-reset': '2026-03-01T12:00:45Z',
    };
    assert.deepEqual(readAnthropicCapacity(headers, NOW), {
      remainingTokens: 1200,
      tokensResetAtMs: NOW + 45_000,
      limitTokens: 16_000,
    });
  });

  it('no such headers: undefined; a reset that is not RFC 3339 is left out', () => {
    assert.equal(readAnthropicCapacity({ 'request-id': 'req_1' }, NOW), undefined);
    assert.deepEqual(
      readAnthropicCapacity(
        { 'anthropic-ratelimit-requests-remaining': '5', 'anthropic-ratelimit-requests-reset': '30s' },
        NOW,
      ),
      { remainingRequests: 5 },
    );
  });
});

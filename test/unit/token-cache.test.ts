/** The token cache: one fetch however many callers wait, refresh before expiry, failures not cached. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AccessToken, createTokenCache } from '../../src/providers/token-cache.ts';

const T0 = 1_766_000_000_000;
const HOUR = 3_600_000;
const MARGIN = 5 * 60_000;

/** A fetch the test resolves or rejects by hand, counting calls. */
function manualFetch() {
  const pending: { resolve(t: AccessToken): void; reject(e: Error): void }[] = [];
  const fetchToken = () =>
    new Promise<AccessToken>((resolve, reject) => {
      pending.push({ resolve, reject });
    });
  return {
    fetchToken,
    get calls() {
      return pending.length;
    },
    resolve(i: number, token: AccessToken) {
      pending[i]?.resolve(token);
    },
    reject(i: number, error: Error) {
      pending[i]?.reject(error);
    },
  };
}

/** A fetch that answers at once with token-1, token-2, ... each valid for `lifeMs` from `now()`. */
function countingFetch(now: () => number, lifeMs: number) {
  let calls = 0;
  return {
    fetchToken: async (): Promise<AccessToken> => {
      calls++;
      return { token: `token-${calls}`, expiresAtMs: now() + lifeMs };
    },
    get calls() {
      return calls;
    },
  };
}

/** Lets a background refresh that answers at once settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createTokenCache', () => {
  it('50 concurrent callers share one fetch and all get its token', async () => {
    const upstream = manualFetch();
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => T0);
    const waiting = Array.from({ length: 50 }, () => getToken());
    assert.equal(upstream.calls, 1);
    upstream.resolve(0, { token: 'tok-A', expiresAtMs: T0 + HOUR });
    assert.deepEqual(await Promise.all(waiting), Array(50).fill('tok-A'));
    // Later callers are answered from the cache.
    assert.equal(await getToken(), 'tok-A');
    assert.equal(upstream.calls, 1);
  });

  it('refreshes refreshMarginMs before expiry, not earlier', async () => {
    let now = T0;
    const upstream = countingFetch(() => now, HOUR);
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => now);
    assert.equal(await getToken(), 'token-1');
    now = T0 + HOUR - MARGIN - 1;
    assert.equal(await getToken(), 'token-1');
    assert.equal(upstream.calls, 1);
    now = T0 + HOUR - MARGIN;
    // The refresh starts now, in the background; the still-valid token answers meanwhile.
    assert.equal(await getToken(), 'token-1');
    assert.equal(upstream.calls, 2);
    await settle();
    assert.equal(await getToken(), 'token-2');
    assert.equal(upstream.calls, 2);
  });

  it('a short-lived token is refreshed at half its life', async () => {
    let now = T0;
    const upstream = countingFetch(() => now, 60_000);
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => now);
    assert.equal(await getToken(), 'token-1');
    now = T0 + 29_999;
    assert.equal(await getToken(), 'token-1');
    now = T0 + 30_000;
    assert.equal(await getToken(), 'token-1');
    await settle();
    assert.equal(await getToken(), 'token-2');
  });

  it('the default margin is five minutes', async () => {
    let now = T0;
    const upstream = countingFetch(() => now, HOUR);
    const getToken = createTokenCache(upstream.fetchToken, undefined, () => now);
    await getToken();
    now = T0 + HOUR - 5 * 60_000 - 1;
    assert.equal(await getToken(), 'token-1');
    now = T0 + HOUR - 5 * 60_000;
    await getToken();
    await settle();
    assert.equal(await getToken(), 'token-2');
  });

  it('a refresh is shared by the callers that arrive while it runs, who keep the valid token meanwhile', async () => {
    let now = T0;
    const upstream = manualFetch();
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => now);
    const first = getToken();
    upstream.resolve(0, { token: 'tok-A', expiresAtMs: T0 + HOUR });
    assert.equal(await first, 'tok-A');
    now = T0 + HOUR - 1000;
    const refreshing = Array.from({ length: 10 }, () => getToken());
    assert.equal(upstream.calls, 2);
    assert.deepEqual(await Promise.all(refreshing), Array(10).fill('tok-A'));
    upstream.resolve(1, { token: 'tok-B', expiresAtMs: now + HOUR });
    await settle();
    assert.equal(await getToken(), 'tok-B');
    assert.equal(upstream.calls, 2);
  });

  it('an expired token is never served: callers wait for the refresh', async () => {
    let now = T0;
    const upstream = manualFetch();
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => now);
    const first = getToken();
    upstream.resolve(0, { token: 'tok-A', expiresAtMs: T0 + HOUR });
    assert.equal(await first, 'tok-A');
    now = T0 + HOUR;
    const waiting = getToken();
    upstream.resolve(1, { token: 'tok-B', expiresAtMs: now + HOUR });
    assert.equal(await waiting, 'tok-B');
  });

  it('a failed fetch is not cached: its waiters all see the error, the next call fetches again', async () => {
    const upstream = manualFetch();
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => T0);
    const waiting = Array.from({ length: 5 }, () => getToken());
    assert.equal(upstream.calls, 1);
    upstream.reject(0, new Error('AADSTS7000215: invalid client secret'));
    const outcomes = await Promise.allSettled(waiting);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.match(String((o as PromiseRejectedResult).reason), /AADSTS7000215/);
    }
    const retry = getToken();
    assert.equal(upstream.calls, 2);
    upstream.resolve(1, { token: 'tok-after-failure', expiresAtMs: T0 + HOUR });
    assert.equal(await retry, 'tok-after-failure');
  });

  it('a refresh that fails while the cached token is still valid falls back to that token', async () => {
    let now = T0;
    const upstream = manualFetch();
    const getToken = createTokenCache(upstream.fetchToken, MARGIN, () => now);
    const first = getToken();
    upstream.resolve(0, { token: 'tok-A', expiresAtMs: T0 + HOUR });
    assert.equal(await first, 'tok-A');
    now = T0 + HOUR - 60_000; // inside the refresh margin, one minute before expiry
    const during = getToken();
    upstream.reject(1, new Error('login.microsoftonline.com: 503'));
    assert.equal(await during, 'tok-A');
  });
});

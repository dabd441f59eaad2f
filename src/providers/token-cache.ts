/** A bearer token and when it stops being valid. */
export interface AccessToken {
  token: string;
  expiresAtMs: number;
}

/**
 * Caches a token and refreshes it before expiry, one refresh at a time however many requests
 * wait for it (a thundering herd of token requests is how an identity provider throttles you).
 * A token is refreshed `refreshMarginMs` before it expires, or at half its life if that is shorter;
 * until it expires, callers get the cached token while the refresh runs.
 */
export function createTokenCache(
  fetchToken: () => Promise<AccessToken>,
  refreshMarginMs = 5 * 60_000,
  now: () => number = Date.now,
): () => Promise<string> {
  let current: { token: string; refreshAtMs: number; expiresAtMs: number } | undefined;
  let inFlight: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const obtainedAt = now();
    let fresh: AccessToken;
    try {
      fresh = await fetchToken();
    } catch (err) {
      // An identity-provider hiccup during an early refresh must not fail requests the cached
      // token can still serve; the next caller tries the refresh again.
      if (current && now() < current.expiresAtMs) return current.token;
      throw err;
    }
    const margin = Math.min(refreshMarginMs, (fresh.expiresAtMs - obtainedAt) / 2);
    current = { token: fresh.token, refreshAtMs: fresh.expiresAtMs - margin, expiresAtMs: fresh.expiresAtMs };
    return fresh.token;
  };
  const startRefresh = (): Promise<string> => {
    inFlight ??= refresh().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return () => {
    const at = now();
    if (current && at < current.refreshAtMs) return Promise.resolve(current.token);
    if (current && at < current.expiresAtMs) {
      // Early refresh: done in the background, so a slow identity provider never holds up a
      // request the cached token can still serve. Its failure is already handled in refresh().
      startRefresh().catch(() => {});
      return Promise.resolve(current.token);
    }
    return startRefresh();
  };
}

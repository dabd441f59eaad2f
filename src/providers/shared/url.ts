/** A base URL without trailing slashes, so paths can be appended with one `/`. */
export function trimTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}

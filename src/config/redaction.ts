/**
 * What an error report may print of a value. Credentials, header values, connection URLs (which
 * may hold passwords) and anything that came from the environment are never printed; as a second
 * line of defence, every such string is also scrubbed from finished messages.
 */
import type { PathSegment } from './interpolate.ts';
import { formatPath } from './problems.ts';
import { SECRET_KEYS } from './schema.ts';

/** Top-level keys whose values are URLs that may carry a password. */
const CONNECTION_KEYS = new Set(['storage', 'redis']);

const CREDENTIAL_LIKE = /key|secret|token|password|credential/i;

/** Shorter strings are not scrubbed: replacing "1" or "on" would mangle unrelated text. */
const MIN_SCRUB_LENGTH = 4;

export interface Redactor {
  valueAt(path: readonly PathSegment[]): unknown;
  isSensitive(path: readonly PathSegment[]): boolean;
  /** The value as it may be printed (`"azure"`, `5`), or undefined when it must not be. */
  quote(path: readonly PathSegment[]): string | undefined;
  /** Replaces every known secret or env-derived string in a finished message with `***`. */
  scrub(message: string): string;
}

export function createRedactor(
  tree: unknown,
  fromEnv: readonly PathSegment[][],
  substituted: readonly string[],
): Redactor {
  const envPaths = new Set(fromEnv.map((p) => formatPath(p)));
  const isSensitive = (path: readonly PathSegment[]): boolean => {
    if (envPaths.has(formatPath(path)) || isCredentialPath(path)) return true;
    const last = path.at(-1);
    return path.length === 1 && typeof last === 'string' && CONNECTION_KEYS.has(last);
  };

  const secrets = new Set<string>(substituted.filter((s) => s.length >= MIN_SCRUB_LENGTH));
  collectCredentials(tree, [], secrets);
  // Longest first, so a secret that contains a shorter one is replaced whole.
  const scrubList = [...secrets].sort((a, b) => b.length - a.length);

  const valueAt = (path: readonly PathSegment[]): unknown => {
    let node = tree;
    for (const segment of path) {
      if (node === null || typeof node !== 'object') return undefined;
      node = (node as Record<PathSegment, unknown>)[segment];
    }
    return node;
  };

  return {
    valueAt,
    isSensitive,
    quote(path) {
      if (isSensitive(path)) return undefined;
      const value = valueAt(path);
      if (typeof value === 'string') {
        return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
      }
      if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
      return undefined;
    },
    scrub(message) {
      let out = message;
      for (const secret of scrubList) out = out.split(secret).join('***');
      return out;
    },
  };
}

/** A credential field (`apiKey`, `entra.clientSecret`, ...) or an upstream header value. */
function isCredentialPath(path: readonly PathSegment[]): boolean {
  const last = path.at(-1);
  // The pattern also covers misspelt credential keys (`apikey:`), which are reported as unknown.
  if (typeof last === 'string' && (SECRET_KEYS.has(last) || CREDENTIAL_LIKE.test(last))) return true;
  return last === 'headers' || path.at(-2) === 'headers';
}

function collectCredentials(node: unknown, path: PathSegment[], into: Set<string>): void {
  if (typeof node === 'string') {
    if (node.length >= MIN_SCRUB_LENGTH && isCredentialPath(path)) into.add(node);
    return;
  }
  if (Array.isArray(node)) {
    node.forEach((item, index) => {
      collectCredentials(item, [...path, index], into);
    });
    return;
  }
  if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) collectCredentials(value, [...path, key], into);
  }
}

/** How a value is described when it may not be quoted: "a string", "a list", ... */
export function describeKind(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

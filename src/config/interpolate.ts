/**
 * `${NAME}` and `${NAME:-default}` environment interpolation, applied to the string VALUES of the
 * parsed YAML tree rather than to the raw text: a secret that contains YAML syntax (`: `, `#`,
 * quotes) can then never break or reshape the document. `$${` is a literal `${`.
 *
 * Semantics follow the shell: `${NAME:-default}` uses the default when NAME is unset OR empty;
 * `${NAME}` with NAME set to "" yields "". Keys are never interpolated. Types are not coerced
 * here: the schema turns "8787" into 8787 only where it expects a number.
 */

export type PathSegment = string | number;

export interface InterpolationProblem {
  path: PathSegment[];
  message: string;
}

export interface InterpolationResult {
  /** The tree with every string value interpolated (a failed value becomes ""). */
  value: unknown;
  problems: InterpolationProblem[];
  /** Paths whose value came, at least in part, from the environment: never echoed in errors. */
  fromEnv: PathSegment[][];
  /** The environment values that were substituted, so an error report can scrub them. */
  substituted: string[];
}

interface StringResult {
  value: string;
  usedEnv: boolean;
  substituted: string[];
  errors: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Interpolates one string; errors are messages about the expression, never about env values. */
export function interpolateString(text: string, env: NodeJS.ProcessEnv): StringResult {
  const result: StringResult = { value: '', usedEnv: false, substituted: [], errors: [] };
  if (!text.includes('${')) {
    result.value = text;
    return result;
  }
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf('}', i + 2);
    if (close === -1) {
      result.errors.push(
        `unterminated "\${": expected \${NAME} or \${NAME:-default} (write $\${ for a literal \${)`,
      );
      break;
    }
    const expression = text.slice(i + 2, close);
    i = close + 1;
    const sep = expression.indexOf(':-');
    const name = sep === -1 ? expression : expression.slice(0, sep);
    const fallback = sep === -1 ? undefined : expression.slice(sep + 2);
    if (!NAME.test(name)) {
      result.errors.push(
        `invalid interpolation: expected \${NAME} or \${NAME:-default} with NAME of letters, digits and _`,
      );
      continue;
    }
    if (fallback?.includes('${')) {
      result.errors.push(`nested interpolation in the default of \${${name}:-...} is not supported`);
      continue;
    }
    const fromEnv = env[name];
    if (fallback !== undefined) {
      const useEnv = fromEnv !== undefined && fromEnv !== '';
      if (useEnv) result.substituted.push(fromEnv);
      out += useEnv ? fromEnv : fallback;
      // Even when the default won, the value counts as env-derived: errors should not reveal
      // which of the two was used.
      result.usedEnv = true;
      continue;
    }
    if (fromEnv === undefined) {
      result.errors.push(
        `environment variable ${name} is not set (write \${${name}:-default} to give it a default)`,
      );
      continue;
    }
    result.usedEnv = true;
    result.substituted.push(fromEnv);
    out += fromEnv;
  }
  result.value = result.errors.length > 0 ? '' : out;
  return result;
}

/** Interpolates every string value in a parsed YAML tree, collecting every problem. */
export function interpolateTree(tree: unknown, env: NodeJS.ProcessEnv): InterpolationResult {
  const result: InterpolationResult = { value: undefined, problems: [], fromEnv: [], substituted: [] };
  const walk = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      const r = interpolateString(node, env);
      for (const message of r.errors) result.problems.push({ path, message });
      if (r.usedEnv || r.errors.length > 0) result.fromEnv.push(path);
      result.substituted.push(...r.substituted);
      return r.value;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        // defineProperty: a YAML key "__proto__" must stay a plain (unknown) key, not a prototype.
        Object.defineProperty(out, key, {
          value: walk(value, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return node;
  };
  result.value = walk(tree, []);
  return result;
}

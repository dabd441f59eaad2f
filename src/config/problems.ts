/**
 * How configuration problems are described: one `ConfigError` carrying every problem found,
 * each with the path inside the file (`providers[1].type`), the YAML line when known and what was
 * expected. `switchyard check` prints `formatConfigError(err)` and exits 1.
 */
import type { PathSegment } from './interpolate.ts';

export interface ConfigProblem {
  /** Where in the document, e.g. `providers[1].type`; "" for the document itself (syntax errors). */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly problems: ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[]) {
    super(renderReport(file, problems));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** The multi-line report: a header naming the file, then one indented line per problem. */
export function formatConfigError(err: ConfigError): string {
  return renderReport(err.file, err.problems);
}

function renderReport(file: string, problems: readonly ConfigProblem[]): string {
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  const lines = problems.map((p) => `  ${problemLocation(p)}: ${p.message}`);
  return [`config error in ${file} (${count}):`, ...lines].join('\n');
}

function problemLocation(problem: ConfigProblem): string {
  const where =
    problem.line === undefined
      ? ''
      : problem.column === undefined
        ? `line ${problem.line}`
        : `line ${problem.line}, column ${problem.column}`;
  if (!problem.path) return where || '(document)';
  return where ? `${problem.path} (${where})` : problem.path;
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `['providers', 1, 'type']` → `providers[1].type`; odd keys (header names with dots) are quoted. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The closest candidate to a mistyped word, when close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(word.length * 0.4));
  if (bestDistance <= allowed) return best;
  // A truncated name ("cached" for "cachedInput") is far by edit distance but an obvious match.
  if (lower.length < 3) return undefined;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    if (other !== lower && (other.startsWith(lower) || lower.startsWith(other))) return candidate;
  }
  return undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit ("teh" → "the"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      }
      row.push(value);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** `; did you mean "x"?` or "" when nothing is close. */
export function suggestionSuffix(word: string, candidates: Iterable<string>): string {
  const suggestion = didYouMean(word, candidates);
  return suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
}

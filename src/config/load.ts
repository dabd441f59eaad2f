/**
 * Loads a configuration file: YAML → `${ENV}` interpolation → schema (defaults applied) →
 * cross-references → relative paths resolved. Every problem of every stage is collected and
 * thrown together as one `ConfigError`, so a single `switchyard check` lists them all.
 * The one exception is a YAML syntax error: the tree after it is unreliable, so only syntax
 * problems are reported then.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { checkCrossReferences } from './cross-references.ts';
import { interpolateTree } from './interpolate.ts';
import { ConfigError, type ConfigProblem, formatPath } from './problems.ts';
import { createRedactor } from './redaction.ts';
import { type Config, type ConfigDocument, configSchema } from './schema.ts';
import { type PathProblem, schemaIssuesToProblems } from './schema-problems.ts';
import { positionOfPath } from './yaml-lines.ts';

/** Reads and validates a configuration file. Throws `ConfigError` listing every problem. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message);
    throw new ConfigError(path.resolve(file), [{ path: '', message: `cannot read the file: ${reason}` }]);
  }
  return parseConfigText(text, file, env);
}

/**
 * Validates configuration text. `file` names it in errors and anchors relative paths (the
 * file need not exist: tests and `demo` pass text directly).
 */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const absoluteFile = path.resolve(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      absoluteFile,
      doc.errors.map((e) => syntaxProblem(e, text, lineCounter)),
    );
  }

  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Only an alias bomb gets here ("Excessive alias count ...").
    throw new ConfigError(absoluteFile, [{ path: '', message: `YAML: ${(err as Error).message}` }]);
  }
  if (tree === null || tree === undefined) {
    throw new ConfigError(absoluteFile, [
      { path: '', message: 'the configuration is empty: expected a mapping with providers and models' },
    ]);
  }

  const interpolated = interpolateTree(withoutExtensionFields(tree), env);
  const redactor = createRedactor(interpolated.value, interpolated.fromEnv, interpolated.substituted);
  // A value whose interpolation failed is reported once, not again as "required" or "unknown".
  const failed = interpolated.problems.map((p) => formatPath(p.path));
  const isUnderFailed = (p: PathProblem) => {
    const at = formatPath(p.path);
    return failed.some((f) => at === f || at.startsWith(`${f}.`) || at.startsWith(`${f}[`));
  };

  const problems: PathProblem[] = [...interpolated.problems];
  const parsed = configSchema.safeParse(interpolated.value, { reportInput: true });
  if (!parsed.success) {
    problems.push(
      ...schemaIssuesToProblems(parsed.error.issues, configSchema, redactor).filter((p) => !isUnderFailed(p)),
    );
  }
  problems.push(...checkCrossReferences(interpolated.value, redactor).filter((p) => !isUnderFailed(p)));

  if (problems.length > 0 || !parsed.success) {
    const located = problems.map((p) => {
      const position = positionOfPath(doc, lineCounter, p.path);
      const problem: ConfigProblem = { path: formatPath(p.path), message: redactor.scrub(p.message) };
      if (position) problem.line = position.line;
      return { problem, position };
    });
    throw new ConfigError(absoluteFile, dedupe(inFileOrder(located)));
  }
  return resolveRelativePaths(parsed.data, path.dirname(absoluteFile));
}

/**
 * Top-level `x-*` keys are extension fields, as in Docker Compose: a place for YAML anchors
 * (`x-defaults: &dep {...}` then `<<: *dep`) that the gateway ignores. They were already
 * expanded where used, so dropping them here loses nothing.
 */
function withoutExtensionFields(tree: unknown): unknown {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return tree;
  return Object.fromEntries(Object.entries(tree).filter(([key]) => !key.startsWith('x-')));
}

/** Relative file paths in the document are relative to the configuration file's folder. */
function resolveRelativePaths(document: ConfigDocument, configDir: string): Config {
  const storage =
    document.storage.startsWith('sqlite:') && document.storage !== 'sqlite::memory:'
      ? `sqlite:${path.resolve(configDir, document.storage.slice('sqlite:'.length))}`
      : document.storage;
  const providers = document.providers.map((provider) =>
    provider.type === 'vertex' && provider.serviceAccountFile !== undefined
      ? { ...provider, serviceAccountFile: path.resolve(configDir, provider.serviceAccountFile) }
      : provider,
  );
  return { ...document, storage, providers, configDir };
}

function syntaxProblem(error: YAMLError, text: string, lineCounter: LineCounter): ConfigProblem {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  // With prettyErrors off the message carries no excerpt of the source, which could hold a secret.
  let message = `YAML syntax error: ${error.message}`;
  // `{ port: ${PORT} }` is the usual culprit: in flow style `{` and `}` are YAML syntax.
  const sourceLine = text.split(/\r?\n/)[line - 1] ?? '';
  if (sourceLine.includes('${') && /[{[]/.test(sourceLine.replace(/\$\{[^}]*\}/g, ''))) {
    message += ` (inside { } or [ ], quote interpolated values: "\${NAME}")`;
  }
  return { path: '', line, column: col, message };
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.path}\u0000${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** In file order, so the report reads top to bottom; problems without a position come last. */
function inFileOrder(
  located: Array<{ problem: ConfigProblem; position: { line: number; col: number } | undefined }>,
): ConfigProblem[] {
  const key = (p: { line: number; col: number } | undefined) =>
    p === undefined ? Number.MAX_SAFE_INTEGER : p.line * 1_000_000 + p.col;
  return located
    .map((entry, index) => ({ ...entry, index }))
    .sort((a, b) => key(a.position) - key(b.position) || a.index - b.index)
    .map(({ problem }) => problem);
}

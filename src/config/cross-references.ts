/**
 * Checks that span several parts of the document: unique ids and names, and every reference
 * (deployment → provider, key → team, key and team → models, boundary → providers) pointing at something
 * that exists. Runs on the interpolated tree even when the schema found problems, reading it
 * defensively, so one `check` run reports everything.
 */
import type { PathSegment } from './interpolate.ts';
import { suggestionSuffix } from './problems.ts';
import type { Redactor } from './redaction.ts';
import type { PathProblem } from './schema-problems.ts';

type Entry = Record<string, unknown>;

/** Known names, and those that may appear in a "did you mean" (not taken from the environment). */
interface Names {
  all: Set<string>;
  printable: Set<string>;
}

export function checkCrossReferences(tree: unknown, redactor: Redactor): PathProblem[] {
  const problems: PathProblem[] = [];
  const root = asEntry(tree);
  if (!root) return problems;

  const providers = entries(root.providers);
  const models = entries(root.models);
  const teams = entries(root.teams);
  const keys = entries(root.keys);

  const providerIds = uniqueNames('providers', providers, 'id', 'provider id', redactor, problems);
  const modelNames = uniqueNames('models', models, 'name', 'model name', redactor, problems);
  const teamNames = uniqueNames('teams', teams, 'name', 'team name', redactor, problems);
  uniqueNames('keys', keys, 'name', 'key name', redactor, problems);
  checkKeyValues(root, keys, problems);

  const reference = (path: PathSegment[], value: unknown, what: string, known: Names) => {
    if (typeof value !== 'string' || value === '' || known.all.has(value)) return;
    const quoted = redactor.quote(path);
    const hint = redactor.isSensitive(path) ? '' : suggestionSuffix(value, known.printable);
    problems.push({ path, message: `unknown ${what}${quoted ? ` ${quoted}` : ''}${hint}` });
  };

  for (const [i, model] of models) {
    for (const [j, deployment] of entries(model.deployments)) {
      const path = ['models', i, 'deployments', j, 'provider'];
      reference(path, deployment.provider, 'provider', providerIds);
    }
  }
  for (const [i, team] of teams) {
    checkModels(['teams', i, 'models'], team.models, modelNames, reference);
    checkBoundary(['teams', i, 'boundary'], team.boundary, providerIds, reference);
  }
  for (const [i, key] of keys) {
    reference(['keys', i, 'team'], key.team, 'team', teamNames);
    checkModels(['keys', i, 'models'], key.models, modelNames, reference);
    checkBoundary(['keys', i, 'boundary'], key.boundary, providerIds, reference);
  }
  return problems;
}

function checkModels(
  path: PathSegment[],
  models: unknown,
  modelNames: Names,
  reference: (path: PathSegment[], value: unknown, what: string, known: Names) => void,
): void {
  if (!Array.isArray(models)) return;
  models.forEach((name, j) => {
    reference([...path, j], name, 'model', modelNames);
  });
}

function checkBoundary(
  path: PathSegment[],
  boundary: unknown,
  providerIds: Names,
  reference: (path: PathSegment[], value: unknown, what: string, known: Names) => void,
): void {
  const providers = asEntry(boundary)?.providers;
  if (!Array.isArray(providers)) return;
  providers.forEach((id, j) => {
    reference([...path, 'providers', j], id, 'provider', providerIds);
  });
}

/** Collects the names under `field`, reporting each repeat at the later entry. */
function uniqueNames(
  list: string,
  items: Array<[number, Entry]>,
  field: string,
  what: string,
  redactor: Redactor,
  problems: PathProblem[],
): Names {
  const firstIndex = new Map<string, number>();
  const printable = new Set<string>();
  for (const [i, item] of items) {
    const name = item[field];
    if (typeof name !== 'string' || name === '') continue;
    const first = firstIndex.get(name);
    if (first === undefined) {
      firstIndex.set(name, i);
      if (!redactor.isSensitive([list, i, field])) printable.add(name);
      continue;
    }
    const path = [list, i, field];
    const quoted = redactor.quote(path);
    problems.push({
      path,
      message: `duplicate ${what}${quoted ? ` ${quoted}` : ''} (already used by ${list}[${first}])`,
    });
  }
  return { all: new Set(firstIndex.keys()), printable };
}

/** Two keys with one value could not be told apart; the value itself is never printed. */
function checkKeyValues(root: Entry, keys: Array<[number, Entry]>, problems: PathProblem[]): void {
  const firstIndex = new Map<string, number>();
  for (const [i, key] of keys) {
    const value = key.key;
    if (typeof value !== 'string' || value === '') continue;
    if (value === root.adminKey) {
      problems.push({
        path: ['keys', i, 'key'],
        message: 'same value as adminKey; every key must be unique',
      });
      continue;
    }
    const first = firstIndex.get(value);
    if (first === undefined) firstIndex.set(value, i);
    else {
      problems.push({
        path: ['keys', i, 'key'],
        message: `same value as keys[${first}].key; every key must be unique`,
      });
    }
  }
}

function asEntry(value: unknown): Entry | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Entry) : undefined;
}

/** The object entries of a list with their original indexes (non-objects are the schema's to report). */
function entries(value: unknown): Array<[number, Entry]> {
  if (!Array.isArray(value)) return [];
  const out: Array<[number, Entry]> = [];
  value.forEach((item, index) => {
    const entry = asEntry(item);
    if (entry) out.push([index, entry]);
  });
  return out;
}

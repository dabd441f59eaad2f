import type { z } from 'zod';
import { GatewayError } from '../../core/errors.ts';

/** `messages[0].content` from zod's path array. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Turns zod issues into one 400 that names the first offending field and its rule. */
export function issuesToError(issues: readonly z.core.$ZodIssue[], root?: string): GatewayError {
  const described = issues.map(specific).map((issue) => {
    const path = formatPath(root === undefined ? issue.path : [root, ...issue.path]);
    return { path, text: `${path === '' ? 'body' : path}: ${describeIssue(issue)}` };
  });
  const first = described[0];
  const message = described
    .slice(0, 5)
    .map((d) => d.text)
    .join('; ');
  return new GatewayError('invalid_request', message, first?.path ? { param: first.path } : {});
}

/**
 * A union's issue says only "Invalid input"; the useful rule is inside the branch that got
 * furthest: the one whose first problem is not "wrong type at the top". Its issue, with the
 * union's path in front, is what the client should read.
 */
function specific(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const promising = issue.errors.find((branch) => {
    const first = branch[0];
    return first !== undefined && !(first.code === 'invalid_type' && first.path.length === 0);
  });
  const inner = promising?.[0];
  if (!inner) return issue;
  return specific({ ...inner, path: [...issue.path, ...inner.path] });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unrecognized argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      // `.int('must be an integer')` reports as an invalid_type whose message is ours.
      return issue.expected === 'int' ? issue.message : `expected ${issue.expected}`;
    case 'invalid_union':
      return 'has an invalid value';
    default:
      return issue.message;
  }
}

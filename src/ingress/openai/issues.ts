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
  const described = issues.map((issue) => {
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

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unrecognized argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `expected ${issue.expected}`;
    default:
      return issue.message;
  }
}

/** Shared helpers for the configuration tests: a small valid document and error capture. */
import assert from 'node:assert/strict';
import { ConfigError, type ConfigProblem, parseConfigText } from '../../src/config/index.ts';

export const FILE = '/etc/switchyard/switchyard.yaml';

/** The smallest valid configuration; tests append or replace sections. */
export const MINIMAL = `providers:
  - id: openai
    type: openai
    apiKey: sk-test-0000
models:
  - name: gpt-5
    deployments:
      - { provider: openai, model: gpt-5 }
`;

/** Parses text that must fail and returns the ConfigError it throws. */
export function configErrorOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfigText(text, FILE, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

/** The problems as `path: message` strings, the shape most assertions want. */
export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return configErrorOf(text, env).problems.map((p) => `${p.path}: ${p.message}`);
}

/** The one problem at `path`; fails when there is none. */
export function problemAt(text: string, path: string, env: NodeJS.ProcessEnv = {}): ConfigProblem {
  const err = configErrorOf(text, env);
  const problem = err.problems.find((p) => p.path === path);
  assert.ok(problem, `no problem at ${path}; got:\n${err.message}`);
  return problem;
}

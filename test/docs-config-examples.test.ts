/**
 * The configuration examples in the README and docs/ are real: every YAML block that is a whole
 * configuration (it has providers and models) passes `switchyard check`'s validation.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfigText } from '../src/config/index.ts';

const ROOT = join(import.meta.dirname, '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => join('docs', f))].filter((f) =>
  f.endsWith('.md'),
);

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/** Every `${NAME}` in the text gets a placeholder value long enough for a key. */
function environmentFor(yaml: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const m of yaml.matchAll(/\$\{([A-Z0-9_]+)/g)) env[m[1]!] = `placeholder-${m[1]!.toLowerCase()}`;
  return env;
}

for (const file of FILES) {
  const blocks = yamlBlocks(readFileSync(join(ROOT, file), 'utf8')).filter(
    (y) => /^providers:/m.test(y) && /^models:/m.test(y),
  );
  blocks.forEach((yaml, i) => {
    test(`${file}: configuration example ${i + 1} is valid`, () => {
      assert.doesNotThrow(() => parseConfigText(yaml, join(ROOT, 'docs-example.yaml'), environmentFor(yaml)));
    });
  });
}

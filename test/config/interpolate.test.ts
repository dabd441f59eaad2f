// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about the ${NAME} syntax itself
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { interpolateString, interpolateTree } from '../../src/config/interpolate.ts';
import { FILE, MINIMAL, problemAt, problemsOf } from './helpers.ts';

describe('interpolateString', () => {
  const env = { HOST: 'example.com', EMPTY: '', PORT: '9000' };

  it('replaces ${NAME} anywhere in a string', () => {
    assert.equal(interpolateString('https://${HOST}:${PORT}/v1', env).value, 'https://example.com:9000/v1');
  });

  it('uses the default when the variable is unset or empty, like the shell', () => {
    assert.equal(interpolateString('${NOPE:-fallback}', env).value, 'fallback');
    assert.equal(interpolateString('${EMPTY:-fallback}', env).value, 'fallback');
    assert.equal(interpolateString('${HOST:-fallback}', env).value, 'example.com');
    assert.equal(interpolateString('${NOPE:-}', env).value, '');
  });

  it('keeps a set-but-empty variable as ""', () => {
    const r = interpolateString('${EMPTY}', env);
    assert.deepEqual([r.value, r.errors], ['', []]);
  });

  it('turns $${ into a literal ${ without looking the name up', () => {
    const r = interpolateString('price: $${NOPE} and ${PORT}', env);
    assert.deepEqual([r.value, r.errors], ['price: ${NOPE} and 9000', []]);
  });

  it('leaves lone dollars alone', () => {
    assert.equal(interpolateString('cost $5 $$ {x}', env).value, 'cost $5 $$ {x}');
  });

  it('reports a missing variable by name, every one of them', () => {
    const r = interpolateString('${A}-${B}', env);
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0]!, /environment variable A is not set/);
    assert.match(r.errors[1]!, /environment variable B is not set/);
  });

  it('rejects malformed expressions', () => {
    assert.match(interpolateString('${1X}', env).errors[0]!, /invalid interpolation/);
    assert.match(interpolateString('abc ${HOST', env).errors[0]!, /unterminated/);
    assert.match(interpolateString('${A:-${B}}', env).errors[0]!, /nested interpolation/);
  });

  it('does not interpolate keys, and records which values came from the environment', () => {
    const r = interpolateTree({ '${HOST}': 'x', list: ['${HOST}', 5, true, null], plain: 'p' }, env);
    assert.deepEqual(r.value, { '${HOST}': 'x', list: ['example.com', 5, true, null], plain: 'p' });
    assert.deepEqual(r.fromEnv, [['list', 0]]);
    assert.deepEqual(r.substituted, ['example.com']);
  });
});

describe('interpolation in a configuration', () => {
  it('fills values from the environment and defaults', () => {
    const text = `${MINIMAL}server: { host: "\${HOST:-0.0.0.0}" }\nadminKey: \${ADMIN}\n`;
    const config = parseConfigText(text, FILE, { ADMIN: 'admin-key-value' });
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.adminKey, 'admin-key-value');
  });

  it('coerces numbers and booleans only where the schema expects them', () => {
    const text = `${MINIMAL}server:
  port: \${PORT:-8787}
  maxBodyBytes: \${MAX}
  metricsAuth: \${METRICS_AUTH:-false}
  host: \${HOST}
`;
    const config = parseConfigText(text, FILE, { MAX: '1024', METRICS_AUTH: 'true', HOST: '12345' });
    assert.equal(config.server.port, 8787);
    assert.equal(config.server.maxBodyBytes, 1024);
    assert.equal(config.server.metricsAuth, true);
    assert.equal(config.server.host, '12345', 'a string field stays a string');
  });

  it('keeps a key that looks like a number a string', () => {
    const text = `${MINIMAL}keys:\n  - { name: n, key: "\${K}" }\n`;
    assert.equal(parseConfigText(text, FILE, { K: '1234567890' }).keys[0]?.key, '1234567890');
  });

  it('rejects a non-numeric value where a number is expected', () => {
    const text = `${MINIMAL}server:\n  port: \${PORT}\n`;
    assert.deepEqual(problemsOf(text, { PORT: 'eighty' }), ['server.port: expected a number (got a string)']);
  });

  it('names the variable and the path of a missing variable, once', () => {
    const text = MINIMAL.replace('apiKey: sk-test-0000', 'apiKey: ${OPENAI_API_KEY}');
    const problem = problemAt(text, 'providers[0].apiKey');
    assert.equal(
      problem.message,
      'environment variable OPENAI_API_KEY is not set (write ${OPENAI_API_KEY:-default} to give it a default)',
    );
    assert.equal(problem.line, 4);
    // Not also reported as "required".
    assert.equal(problemsOf(text).length, 1);
  });

  it('keeps a secret containing YAML syntax intact: values are interpolated after parsing', () => {
    const tricky = 'sk-"quoted": #not-a-comment\n  - [x]';
    const text = MINIMAL.replace('apiKey: sk-test-0000', 'apiKey: ${OPENAI_API_KEY}');
    const provider = parseConfigText(text, FILE, { OPENAI_API_KEY: tricky }).providers[0];
    assert.ok(provider?.type === 'openai');
    assert.equal(provider.apiKey, tricky);
  });

  it('supports the $${ escape in a configuration value', () => {
    const text = MINIMAL.replace('apiKey: sk-test-0000', () => 'apiKey: "sk-$${literal}"');
    const provider = parseConfigText(text, FILE, {}).providers[0];
    assert.ok(provider?.type === 'openai');
    assert.equal(provider.apiKey, 'sk-${literal}');
  });

  it('hints at quoting when ${...} breaks a flow mapping', () => {
    const text = `${MINIMAL}server: { port: \${PORT} }\n`;
    const [first] = problemsOf(text);
    assert.match(first!, /YAML syntax error: .*quote interpolated values: "\$\{NAME\}"/);
  });
});

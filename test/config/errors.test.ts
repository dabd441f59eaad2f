// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about the ${NAME} syntax itself
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatConfigError, parseConfigText } from '../../src/config/index.ts';
import { configErrorOf, FILE, MINIMAL, problemAt, problemsOf } from './helpers.ts';

const PROVIDER_TYPES = 'openai | azure-openai | bedrock | vertex | gemini | anthropic | openai-compatible';

/** MINIMAL with its provider list replaced by `providers` (YAML list items, 2-space indented). */
function withProviders(providers: string): string {
  return MINIMAL.replace(/providers:\n(?: {2}.*\n)+?models:/, `providers:\n${providers}models:`);
}

describe('schema errors', () => {
  it('an unknown provider type lists the types and echoes the value', () => {
    const text = withProviders(
      '  - { id: openai, type: openai, apiKey: sk-test-0000 }\n  - { id: az, type: azure }\n',
    );
    const problem = problemAt(text, 'providers[1].type');
    assert.equal(problem.message, `expected one of ${PROVIDER_TYPES} (got "azure")`);
    assert.equal(problem.line, 3);
  });

  it('a missing provider type says so', () => {
    const text = withProviders('  - { id: openai, type: openai, apiKey: sk-test-0000 }\n  - { id: x }\n');
    assert.equal(problemAt(text, 'providers[1].type').message, `required; expected one of ${PROVIDER_TYPES}`);
  });

  it('a wrong type still gets the shared provider fields checked', () => {
    const text = withProviders('  - { id: "bad id", type: azure }\n');
    assert.deepEqual(problemsOf(text), [
      'providers[0].id: expected 1-64 characters from A-Z a-z 0-9 . _ - (got "bad id")',
      `providers[0].type: expected one of ${PROVIDER_TYPES} (got "azure")`,
      'models[0].deployments[0].provider: unknown provider "openai"',
    ]);
  });

  it('an unknown key suggests the closest key allowed for that provider type', () => {
    const text = MINIMAL.replace('apiKey: sk-test-0000', 'apikey: sk-test-0000');
    assert.deepEqual(problemsOf(text), [
      'providers[0].apiKey: required',
      'providers[0].apikey: unknown key; did you mean "apiKey"?',
    ]);
    const bedrock = withProviders(
      '  - { id: openai, type: bedrock, region: us-east-1, acessKeyId: AKIA0000, secretAccessKey: s3cr3t-value }\n',
    );
    assert.equal(
      problemAt(bedrock, 'providers[0].acessKeyId').message,
      'unknown key; did you mean "accessKeyId"?',
    );
    // apiVersion belongs to azure-openai, so an openai entry lists its own keys instead.
    const openai = MINIMAL.replace('apiKey: sk-test-0000', 'apiKey: sk-test-0000\n    apiVersion: v1');
    assert.equal(
      problemAt(openai, 'providers[0].apiVersion').message,
      'unknown key (allowed: id, type, region, endpoint, tags, commitment, headers, apiKey, organization, project)',
    );
  });

  it('unknown keys are reported everywhere, top level included', () => {
    const text = `${MINIMAL}model: []\nserver: { prot: 1 }\nrouting: { retry: { maxAttempt: 2 } }\n`;
    assert.deepEqual(problemsOf(text), [
      'model: unknown key; did you mean "models"?',
      'server.prot: unknown key; did you mean "port"?',
      'routing.retry.maxAttempt: unknown key; did you mean "maxAttempts"?',
    ]);
  });

  it('bad values name the expectation', () => {
    const text = `${MINIMAL}server: { port: 70000, maxBodyBytes: 1.5, metricsAuth: yes }
storage: mysql://db
keys:
  - { name: short, key: abc, budget: { usd: -1, period: year, mode: strict } }
`;
    assert.deepEqual(problemsOf(text), [
      'server.port: expected a number <= 65535 (got 70000)',
      'server.maxBodyBytes: expected an integer (got 1.5)',
      'server.metricsAuth: expected true or false (got "yes")',
      'storage: expected memory, sqlite:<path> or postgres://user@host:5432/db',
      'keys[0].key: expected at least 8 characters',
      'keys[0].budget.usd: expected a number >= 0 (got -1)',
      'keys[0].budget.period: expected one of day | week | month | total (got "year")',
      'keys[0].budget.mode: expected one of hard | soft (got "strict")',
    ]);
  });

  it('missing required sections and empty lists', () => {
    assert.deepEqual(problemsOf('server: { port: 1 }\n'), ['providers: required', 'models: required']);
    const text = MINIMAL.replace(/deployments:\n.*\n/, 'deployments: []\n');
    assert.deepEqual(problemsOf(text), ['models[0].deployments: expected a non-empty list']);
  });

  it('an empty document and a non-mapping document', () => {
    assert.deepEqual(problemsOf(''), [
      ': the configuration is empty: expected a mapping with providers and models',
    ]);
    assert.deepEqual(problemsOf('- a\n- b\n'), [': expected a mapping (got a list)']);
  });

  it('endpoint must be an http(s) URL; azure-openai and openai-compatible require one', () => {
    const text = withProviders(`  - { id: openai, type: openai, apiKey: sk-test-0000, endpoint: "ftp://x" }
  - { id: az, type: azure-openai, apiKey: k-000000 }
  - { id: vllm, type: openai-compatible }
`);
    assert.deepEqual(problemsOf(text), [
      'providers[0].endpoint: expected an http(s) URL (got "ftp://x")',
      'providers[1].endpoint: required',
      'providers[2].endpoint: required',
    ]);
  });

  it('bedrock and vertex require a region; vertex requires a project', () => {
    const text = withProviders(`  - { id: openai, type: bedrock }
  - { id: v, type: vertex }
`);
    assert.deepEqual(problemsOf(text), [
      'providers[0].region: required',
      'providers[1].region: required',
      'providers[1].project: required',
    ]);
  });

  it('bedrock access keys come in pairs and exclude an API key', () => {
    const text = withProviders(`  - { id: openai, type: bedrock, region: us-east-1, accessKeyId: AKIA0000 }
  - { id: b2, type: bedrock, region: us-east-1, secretAccessKey: s3cret-0000, apiKey: bedrock-api-key }
  - { id: b3, type: bedrock, region: us-east-1, sessionToken: "\${AWS_SESSION_TOKEN:-}" }
`);
    assert.deepEqual(problemsOf(text), [
      'providers[0].secretAccessKey: required when accessKeyId is given',
      'providers[1].accessKeyId: required when secretAccessKey is given',
      'providers[1].apiKey: give either apiKey or accessKeyId/secretAccessKey, not both',
    ]);
  });
});

describe('the azure credential rule', () => {
  const azure = (credentials: string) =>
    withProviders(
      `  - { id: openai, type: azure-openai, endpoint: "https://r.openai.azure.com"${credentials ? `, ${credentials}` : ''} }\n`,
    );

  it('accepts exactly one of apiKey, bearerToken, entra', () => {
    for (const credential of [
      'apiKey: k-000000',
      'bearerToken: eyJ0eXAi',
      'entra: { tenantId: t, clientId: c, clientSecret: s-000000 }',
    ]) {
      assert.doesNotThrow(() => parseConfigText(azure(credential), FILE, {}), credential);
    }
  });

  it('rejects none, naming the rule', () => {
    assert.deepEqual(problemsOf(azure('')), [
      'providers[0]: exactly one credential is required: apiKey, bearerToken or entra (got none)',
    ]);
  });

  it('counts an empty secret as absent', () => {
    assert.deepEqual(problemsOf(azure('apiKey: "${AZURE_KEY:-}"')), [
      'providers[0]: exactly one credential is required: apiKey, bearerToken or entra (got none)',
    ]);
  });

  it('rejects two, naming both', () => {
    assert.deepEqual(
      problemsOf(azure('apiKey: k-000000, entra: { tenantId: t, clientId: c, clientSecret: s-0000 }')),
      [
        'providers[0]: exactly one credential is required: apiKey, bearerToken or entra (got apiKey and entra)',
      ],
    );
  });

  it('is checked even when another field of the provider is wrong', () => {
    const text = azure('').replace('"https://r.openai.azure.com"', 'nope');
    assert.deepEqual(problemsOf(text), [
      'providers[0]: exactly one credential is required: apiKey, bearerToken or entra (got none)',
      'providers[0].endpoint: expected an http(s) URL (got "nope")',
    ]);
  });
});

describe('cross-reference errors', () => {
  const doc = `providers:
  - { id: azure-eastus, type: azure-openai, endpoint: "https://r.openai.azure.com", apiKey: k-000000 }
  - { id: azure-eastus, type: openai, apiKey: sk-000000 }
models:
  - name: gpt-5
    deployments:
      - { provider: azure-eastu, model: gpt-5 }
  - name: gpt-5
    deployments:
      - { provider: azure-eastus, model: gpt-5 }
teams:
  - name: research
    boundary: { providers: [azure-westus] }
keys:
  - name: app
    key: key-one-000000
    team: reserch
    models: [gpt-5, gtp-5]
    boundary: { providers: [azure-eastus, azuer-eastus] }
  - name: app
    key: key-one-000000
`;

  it('reports each broken reference and duplicate at its path, in file order', () => {
    assert.deepEqual(problemsOf(doc), [
      'providers[1].id: duplicate provider id "azure-eastus" (already used by providers[0])',
      'models[0].deployments[0].provider: unknown provider "azure-eastu"; did you mean "azure-eastus"?',
      'models[1].name: duplicate model name "gpt-5" (already used by models[0])',
      'teams[0].boundary.providers[0]: unknown provider "azure-westus"; did you mean "azure-eastus"?',
      'keys[0].team: unknown team "reserch"; did you mean "research"?',
      'keys[0].models[1]: unknown model "gtp-5"; did you mean "gpt-5"?',
      'keys[0].boundary.providers[1]: unknown provider "azuer-eastus"; did you mean "azure-eastus"?',
      'keys[1].name: duplicate key name "app" (already used by keys[0])',
      'keys[1].key: same value as keys[0].key; every key must be unique',
    ]);
  });

  it('never prints a duplicated key value', () => {
    assert.doesNotMatch(configErrorOf(doc).message, /key-one-000000/);
  });

  it('rejects a key equal to the admin key', () => {
    const text = `${MINIMAL}adminKey: admin-000000\nkeys:\n  - { name: a, key: admin-000000 }\n`;
    assert.deepEqual(problemsOf(text), ['keys[0].key: same value as adminKey; every key must be unique']);
  });
});

describe('the report', () => {
  const text = `server:
  port: 8787
providers:
  - id: openai
    type: openai
    apiKey: sk-test-0000
  - id: az
    type: azure
models:
  - name: gpt-5
    deployments:
      - { provider: openai, model: gpt-5 }
teams:
  - name: research
keys:
  - name: app
    key: key-000000000
    team: reserch
`;

  it('lists every problem at once with line numbers', () => {
    const err = configErrorOf(text);
    assert.deepEqual(
      err.problems.map((p) => [p.path, p.line]),
      [
        ['providers[1].type', 8],
        ['keys[0].team', 18],
      ],
    );
  });

  it('formats as a header and one line per problem', () => {
    const err = configErrorOf(text);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.file, FILE);
    const expected = `config error in ${FILE} (2 problems):
  providers[1].type (line 8): expected one of ${PROVIDER_TYPES} (got "azure")
  keys[0].team (line 18): unknown team "reserch"; did you mean "research"?`;
    assert.equal(formatConfigError(err), expected);
    assert.equal(err.message, expected);
  });

  it('mixes interpolation, schema and cross-reference problems in one report', () => {
    const mixed = text
      .replace('port: 8787', 'port: ${PORT}')
      .replace('apiKey: sk-test-0000', 'apiKey: ${OPENAI_KEY}');
    assert.deepEqual(problemsOf(mixed), [
      'server.port: environment variable PORT is not set (write ${PORT:-default} to give it a default)',
      'providers[0].apiKey: environment variable OPENAI_KEY is not set (write ${OPENAI_KEY:-default} to give it a default)',
      `providers[1].type: expected one of ${PROVIDER_TYPES} (got "azure")`,
      'keys[0].team: unknown team "reserch"; did you mean "research"?',
    ]);
  });

  it('reports YAML syntax errors with line and column, and nothing else', () => {
    const err = configErrorOf('providers:\n  - id: a\n   type: openai\nmodels: [\n');
    assert.ok(err.problems.length >= 1);
    for (const problem of err.problems) {
      assert.equal(problem.path, '');
      assert.equal(typeof problem.line, 'number');
      assert.equal(typeof problem.column, 'number');
      assert.match(problem.message, /^YAML syntax error: /);
    }
    assert.match(err.message, /^ {2}line \d+, column \d+: YAML syntax error: /m);
  });

  it('reports duplicate YAML keys as syntax errors', () => {
    const [problem] = configErrorOf(`${MINIMAL}server: {}\nserver: {}\n`).problems;
    assert.equal(problem?.line, 10);
    assert.match(problem?.message ?? '', /Map keys must be unique/);
  });

  it('points a missing key at its parent entry', () => {
    const text2 = withProviders('  - id: g\n    type: gemini\n');
    const problem = problemAt(text2, 'providers[0].apiKey');
    assert.equal(problem.message, 'required');
    assert.equal(problem.line, 2);
  });
});

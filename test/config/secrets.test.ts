// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the documents below use ${NAME} interpolation
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from '../../src/config/index.ts';
import { configErrorOf } from './helpers.ts';

/** Every secret fed to the loader below; none may appear anywhere in the report. */
const ENV = {
  ADMIN: 'env-admin-secret-1',
  OPENAI_KEY: 'env-openai-secret-2',
  AWS_ID: 'AKIAENVSECRET3',
  AWS_SECRET: 'env-aws-secret-4',
  AWS_TOKEN: 'env-aws-session-5',
  TEAM_KEY: 'env-key-secret-6',
  WRONG_TYPE: 'env-wrong-type-secret-7',
  PROVIDER_ID: 'env-provider-id-8',
  NOT_A_NUMBER: 'env-port-secret-9',
  BAD_MODEL: 'env-model-secret-10',
};

const LITERALS = [
  'literal-openai-secret-a',
  'literal-misspelt-secret-b',
  'literal-header-secret-c',
  'literal-bearer-secret-d',
  'literal-client-secret-e',
  'literal-dup-key-secret-f',
  'pg-password-secret-g',
  'redis-password-secret-h',
  'short',
];

const DOCUMENT = `server: { port: "\${NOT_A_NUMBER}" }
storage: "mysql://user:pg-password-secret-g@db/x"
redis: "http://:redis-password-secret-h@cache:6379"
adminKey: \${ADMIN}
providers:
  - id: openai
    type: openai
    apiKey: \${OPENAI_KEY}
    organization: 5
    headers: { X-Token: literal-header-secret-c, X-Bad: 7 }
  - id: openai-2
    type: openai
    apikey: literal-misspelt-secret-b
  - id: az
    type: azure-openai
    endpoint: https://r.openai.azure.com
    bearerToken: literal-bearer-secret-d
    entra: { tenantId: t, clientId: c, clientSecret: literal-client-secret-e, extra: 1 }
  - id: b
    type: bedrock
    region: us-east-1
    accessKeyId: \${AWS_ID}
    sessionToken: \${AWS_TOKEN}
    apiKey: \${AWS_SECRET}
  - id: "\${PROVIDER_ID}"
    type: "\${WRONG_TYPE}"
  - id: x
    type: openai
    apiKey: 12345678
models:
  - name: m
    deployments: [{ provider: "\${PROVIDER_ID}x", model: m }]
keys:
  - { name: a, key: "\${TEAM_KEY}", models: ["\${BAD_MODEL}"] }
  - { name: b, key: "\${TEAM_KEY}" }
  - { name: c, key: literal-dup-key-secret-f }
  - { name: d, key: literal-dup-key-secret-f }
  - { name: e, key: short }
  - { name: f, key: "\${ADMIN}" }
`;

describe('secrets are never echoed', () => {
  const err = configErrorOf(DOCUMENT, ENV);
  const outputs = [err.message, formatConfigError(err), JSON.stringify(err.problems), String(err.stack)];

  it('the document really is full of problems around the secrets', () => {
    assert.ok(err.problems.length >= 15, err.message);
  });

  for (const [name, secret] of [...Object.entries(ENV), ...LITERALS.map((s) => [s, s] as const)]) {
    it(`does not print ${name}`, () => {
      for (const output of outputs) assert.ok(!output.includes(secret), `${secret} leaked:\n${output}`);
    });
  }

  it('still names every place, without the values', () => {
    const paths = err.problems.map((p) => p.path);
    for (const path of [
      'server.port',
      'storage',
      'redis',
      'providers[0].organization',
      'providers[0].headers.X-Bad',
      'providers[1].apikey',
      'providers[2]',
      'providers[2].entra.extra',
      'providers[3].secretAccessKey',
      'providers[3].apiKey',
      'providers[4].type',
      'providers[5].apiKey',
      'models[0].deployments[0].provider',
      'keys[0].models[0]',
      'keys[1].key',
      'keys[3].key',
      'keys[4].key',
      'keys[5].key',
    ]) {
      assert.ok(paths.includes(path), `no problem at ${path}:\n${err.message}`);
    }
  });

  it('says what was expected even where it cannot say what was found', () => {
    const byPath = new Map(err.problems.map((p) => [p.path, p.message]));
    assert.equal(byPath.get('server.port'), 'expected a number (got a string)');
    assert.equal(byPath.get('providers[5].apiKey'), 'expected a string (got a number; put it in quotes)');
    assert.equal(byPath.get('keys[0].models[0]'), 'unknown model');
    assert.match(
      byPath.get('providers[4].type') ?? '',
      /^expected one of openai \| .* \| openai-compatible$/,
    );
  });

  it('suggests no name that came from the environment', () => {
    const text = DOCUMENT.replace('provider: "${PROVIDER_ID}x"', 'provider: env-provider-id-9');
    const problem = configErrorOf(text, ENV).problems.find(
      (p) => p.path === 'models[0].deployments[0].provider',
    );
    assert.equal(problem?.message, 'unknown provider "env-provider-id-9"');
  });
});

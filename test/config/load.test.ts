import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Config,
  ConfigError,
  loadConfigFile,
  type ProviderConfig,
  parseConfigText,
  resolveModelRouting,
} from '../../src/config/index.ts';
import { FILE, MINIMAL } from './helpers.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const CONTRACT_EXAMPLE = path.join(FIXTURES, 'contract-example.yaml');

const CONTRACT_ENV = {
  SWITCHYARD_ADMIN_KEY: 'admin-key-0123456789',
  AZURE_OPENAI_API_KEY: 'azure-key-0123456789',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE0000',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-0123456789',
  GEMINI_API_KEY: 'gemini-key-0123456789',
  ANTHROPIC_API_KEY: 'anthropic-key-0123456789',
  RESEARCH_KEY: 'sk-research-0123456789',
};

function providerOf(config: Config, id: string): ProviderConfig {
  const provider = config.providers.find((p) => p.id === id);
  assert.ok(provider, `provider ${id}`);
  return provider;
}

describe('the contract example', () => {
  const config = loadConfigFile(CONTRACT_EXAMPLE, CONTRACT_ENV);

  it('parses with every section', () => {
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 8787,
      maxBodyBytes: 33554432,
      bodyTimeoutMs: 30000,
      maxInFlight: 4096,
      drainDelayMs: 0,
      shutdownGraceMs: 10000,
      metricsAuth: false,
      maxEmbeddingInputs: 2048,
      imageFetch: {
        enabled: true,
        maxBytes: 20971520,
        timeoutMs: 10000,
        allowPrivateNetworks: false,
        maxImages: 20,
        maxTotalBytes: 52428800,
        concurrency: 4,
        allowedPorts: [80, 443],
      },
    });
    assert.deepEqual(config.logging, {
      bodies: false,
      retentionDays: 30,
      queueSize: 10000,
      batchSize: 500,
      flushMs: 50,
    });
    assert.deepEqual(config.telemetry, { otlpEndpoint: 'http://127.0.0.1:4318', serviceName: 'switchyard' });
    assert.deepEqual(config.alerts, { webhook: 'https://hooks.example.com/switchyard' });
    assert.equal(config.redis, 'redis://127.0.0.1:6379');
    assert.equal(config.adminKey, CONTRACT_ENV.SWITCHYARD_ADMIN_KEY);
    assert.deepEqual(config.routing, {
      timeouts: { connectMs: 2000, firstByteMs: 60000, idleMs: 30000, totalMs: 600000 },
      retry: { maxAttempts: 3, budgetPercent: 20, backoffMs: 200, maxThrottleWaitMs: 2000 },
      circuitBreaker: {
        failureThreshold: 5,
        failureRatePercent: 50,
        minimumRequests: 20,
        windowMs: 30000,
        cooldownMs: 30000,
      },
    });
    assert.deepEqual(
      config.providers.map((p) => [p.id, p.type, p.region]),
      [
        ['azure-eastus', 'azure-openai', 'eastus'],
        ['bedrock-us-east-1', 'bedrock', 'us-east-1'],
        ['vertex-europe-west4', 'vertex', 'europe-west4'],
        ['gemini', 'gemini', 'global'],
        ['anthropic', 'anthropic', 'us'],
        ['local-vllm', 'openai-compatible', 'on-prem'],
      ],
    );
    assert.deepEqual(
      config.models.map((m) => m.name),
      ['gpt-5', 'text-embedding-3-small'],
    );
    assert.equal(config.teams[0]?.name, 'research');
    assert.equal(config.keys[0]?.key, CONTRACT_ENV.RESEARCH_KEY);
  });

  it('fills provider fields and defaults', () => {
    const azure = providerOf(config, 'azure-eastus');
    assert.equal(azure.type, 'azure-openai');
    if (azure.type !== 'azure-openai') return;
    assert.equal(azure.apiVersion, '2024-10-21');
    assert.equal(azure.endpoint, 'https://contoso.openai.azure.com');
    assert.equal(azure.apiKey, CONTRACT_ENV.AZURE_OPENAI_API_KEY);

    const bedrock = providerOf(config, 'bedrock-us-east-1');
    assert.equal(bedrock.type, 'bedrock');
    if (bedrock.type !== 'bedrock') return;
    assert.deepEqual(bedrock.tags, ['zdr', 'no-training']);
    assert.deepEqual(bedrock.commitment, { usd: 20000, period: 'month' });
    assert.equal(bedrock.accessKeyId, CONTRACT_ENV.AWS_ACCESS_KEY_ID);
    // `${AWS_SESSION_TOKEN:-}` with the variable unset is an absent token, not "".
    assert.equal(bedrock.sessionToken, undefined);

    const anthropic = providerOf(config, 'anthropic');
    assert.ok(anthropic.type === 'anthropic' && anthropic.anthropicVersion === '2023-06-01');
    assert.deepEqual(providerOf(config, 'gemini').tags, []);
  });

  it('fills model, deployment, team and key fields', () => {
    const [gpt5, embedding] = config.models;
    assert.equal(gpt5?.strategy, 'priority');
    assert.deepEqual(gpt5?.hedge, { afterMs: 1500 });
    assert.deepEqual(gpt5?.deployments[0], {
      provider: 'azure-eastus',
      model: 'gpt-5-prod',
      priority: 1,
      weight: 1,
      rpm: 1000,
      tpm: 2000000,
      price: { input: 1.25, output: 10 },
    });
    assert.deepEqual(gpt5?.deployments[1], {
      provider: 'bedrock-us-east-1',
      model: 'openai.gpt-oss-120b-1:0',
      priority: 2,
      weight: 1,
    });
    assert.equal(embedding?.strategy, 'priority');
    assert.deepEqual(config.teams[0]?.budget, { usd: 5000, period: 'month', mode: 'hard' });
    assert.deepEqual(config.keys[0]?.boundary, {
      regions: ['europe-*', 'eu*'],
      providers: ['vertex-europe-west4'],
      tags: ['zdr'],
    });
  });

  it('merges a model routing override over the global routing', () => {
    const routing = resolveModelRouting(config.routing, config.models[0]?.routing);
    assert.deepEqual(routing.timeouts, {
      connectMs: 2000,
      firstByteMs: 20000,
      idleMs: 30000,
      totalMs: 600000,
    });
    assert.deepEqual(routing.retry, config.routing.retry);
    assert.deepEqual(resolveModelRouting(config.routing, undefined), config.routing);
  });

  it('resolves relative paths against the config folder', () => {
    assert.equal(config.configDir, FIXTURES);
    assert.equal(config.storage, `sqlite:${path.join(FIXTURES, 'data/switchyard.db')}`);
    const vertex = providerOf(config, 'vertex-europe-west4');
    assert.ok(vertex.type === 'vertex');
    assert.equal(vertex.serviceAccountFile, path.join(FIXTURES, 'secrets/vertex-sa.json'));
  });
});

describe('dates', () => {
  it('an expiresAt that names a day that does not exist is refused, not moved to March', () => {
    const text = `${MINIMAL}keys: [{ name: k, key: sk-feb-thirty-0001, expiresAt: "2030-02-30T00:00:00Z" }]\n`;
    assert.throws(
      () => parseConfigText(text, FILE, {}),
      (err: unknown) =>
        err instanceof ConfigError && err.problems.some((p) => p.path === 'keys[0].expiresAt'),
    );
  });
});

describe('defaults', () => {
  it('fill a minimal configuration', () => {
    const config = parseConfigText(MINIMAL, FILE, {});
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 8787,
      maxBodyBytes: 33554432,
      bodyTimeoutMs: 30000,
      maxInFlight: 4096,
      drainDelayMs: 0,
      shutdownGraceMs: 10000,
      metricsAuth: false,
      maxEmbeddingInputs: 2048,
      imageFetch: {
        enabled: true,
        maxBytes: 20971520,
        timeoutMs: 10000,
        allowPrivateNetworks: false,
        maxImages: 20,
        maxTotalBytes: 52428800,
        concurrency: 4,
        allowedPorts: [80, 443],
      },
    });
    assert.deepEqual(config.logging, {
      bodies: false,
      retentionDays: 30,
      queueSize: 10000,
      batchSize: 500,
      flushMs: 50,
    });
    assert.deepEqual(config.telemetry, { serviceName: 'switchyard' });
    assert.deepEqual(config.alerts, {});
    assert.equal(config.storage, 'sqlite:/etc/switchyard/data/switchyard.db');
    assert.equal(config.adminKey, undefined);
    assert.equal(config.routing.retry.maxAttempts, 3);
    assert.deepEqual(config.teams, []);
    assert.deepEqual(config.keys, []);
    assert.equal(config.models[0]?.strategy, 'priority');
    assert.deepEqual(config.models[0]?.deployments[0], {
      provider: 'openai',
      model: 'gpt-5',
      priority: 1,
      weight: 1,
    });
    assert.equal(config.providers[0]?.region, 'global');
    assert.deepEqual(config.providers[0]?.tags, []);
    assert.equal(config.configDir, '/etc/switchyard');
  });

  it('keep partial sections partial: one routing value does not drop the others', () => {
    const config = parseConfigText(`${MINIMAL}routing: { retry: { maxAttempts: 5 } }\n`, FILE, {});
    assert.deepEqual(config.routing.retry, {
      maxAttempts: 5,
      budgetPercent: 20,
      backoffMs: 200,
      maxThrottleWaitMs: 2000,
    });
    assert.equal(config.routing.timeouts.totalMs, 600000);
  });

  it('fill azure entra defaults and accept apiVersion v1', () => {
    const text = MINIMAL.replace(
      /providers:\n/,
      `providers:
  - id: az
    type: azure-openai
    endpoint: https://r.openai.azure.com/
    apiVersion: v1
    entra: { tenantId: t, clientId: c, clientSecret: s3cret-value }
`,
    );
    const azure = parseConfigText(text, FILE, {}).providers[0];
    assert.ok(azure?.type === 'azure-openai');
    assert.equal(azure.apiVersion, 'v1');
    assert.equal(azure.endpoint, 'https://r.openai.azure.com', 'trailing slash trimmed');
    assert.deepEqual(azure.entra, {
      tenantId: 't',
      clientId: 'c',
      clientSecret: 's3cret-value',
      authorityHost: 'https://login.microsoftonline.com',
      scope: 'https://cognitiveservices.azure.com/.default',
    });
  });

  it('keep memory and postgres storage as written', () => {
    assert.equal(parseConfigText(`${MINIMAL}storage: memory\n`, FILE, {}).storage, 'memory');
    const pg = 'postgres://user@db:5432/switchyard';
    assert.equal(parseConfigText(`${MINIMAL}storage: ${pg}\n`, FILE, {}).storage, pg);
    assert.equal(
      parseConfigText(`${MINIMAL}storage: "sqlite:/var/lib/s.db"\n`, FILE, {}).storage,
      'sqlite:/var/lib/s.db',
    );
  });
});

describe('YAML conveniences', () => {
  it('ignores top-level x-* extension fields and expands merge keys from their anchors', () => {
    const text = `x-deployment: &deployment { priority: 2, weight: 3 }
${MINIMAL.replace('{ provider: openai, model: gpt-5 }', '{ <<: *deployment, provider: openai, model: gpt-5 }')}`;
    const config = parseConfigText(text, FILE, {});
    assert.deepEqual(config.models[0]?.deployments[0], {
      provider: 'openai',
      model: 'gpt-5',
      priority: 2,
      weight: 3,
    });
    assert.equal('x-deployment' in config, false);
  });
});

describe('loadConfigFile', () => {
  it('reads a file and resolves relative paths against its folder, not the working directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-config-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      `${MINIMAL}  - name: gemini
    deployments: [{ provider: vertex, model: gemini-2.5-pro }]
storage: sqlite:state/gw.db
`.replace(
        'providers:\n',
        'providers:\n  - { id: vertex, type: vertex, region: global, project: p, serviceAccountFile: sa.json }\n',
      ),
    );
    const config = loadConfigFile(path.relative(process.cwd(), file), {});
    assert.equal(config.configDir, dir);
    assert.equal(config.storage, `sqlite:${path.join(dir, 'state/gw.db')}`);
    const vertex = config.providers[0];
    assert.ok(vertex?.type === 'vertex');
    assert.equal(vertex.serviceAccountFile, path.join(dir, 'sa.json'));
  });

  it('reports a missing file as a ConfigError naming it', () => {
    const missing = path.join(tmpdir(), 'does-not-exist', 'switchyard.yaml');
    assert.throws(
      () => loadConfigFile(missing, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.file === missing &&
        err.problems[0]?.message === 'cannot read the file: no such file',
    );
  });
});

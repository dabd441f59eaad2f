/**
 * The Bedrock provider built from configuration: URLs and model-id encoding, SigV4 headers (checked
 * by the simulated Bedrock's verifier, which the official SDK also passes), session tokens, API keys,
 * environment credentials, and where an inference profile may process data.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { request as undiciRequest } from 'undici';
import { parseConfigText } from '../../src/config/index.ts';
import type { ChatRequest } from '../../src/core/chat.ts';
import { inferenceProfileResidency } from '../../src/providers/bedrock/index.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { type HttpCall, type Provider, UpstreamError } from '../../src/providers/types.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { FIXTURES, TEST_CALL, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const PROFILE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const AWS = { accessKeyId: 'AKIDUNITTEST01', secretAccessKey: 'unit-secret-do-not-print' };

const REQUEST: ChatRequest = {
  model: 'claude',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hello bedrock' }] }],
  stream: false,
  includeUsage: false,
  tools: [],
  stop: [],
  openai: { passthrough: {} },
};

function provider(fields: string, env: NodeJS.ProcessEnv = {}): Provider {
  const yaml = `providers:
  - { id: bedrock-test, type: bedrock, region: us-east-1${fields ? `, ${fields}` : ''} }
models:
  - { name: claude, deployments: [{ provider: bedrock-test, model: x }] }
`;
  const config = parseConfigText(yaml, '/tmp/bedrock.yaml', env);
  const found = config.providers[0];
  assert.ok(found);
  return createProvider(found, { ...TEST_PROVIDER_CONTEXT, env });
}

async function send(call: HttpCall) {
  const res = await undiciRequest(call.url, {
    method: call.method,
    headers: call.headers,
    body: call.body ?? null,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('bedrock provider: URLs and SigV4 headers', () => {
  it('signs the default regional endpoint with the model id as one encoded path segment', async () => {
    const p = provider(`accessKeyId: ${AWS.accessKeyId}, secretAccessKey: ${AWS.secretAccessKey}`);
    const call = await p.chatCall(REQUEST, { model: PROFILE }, TEST_CALL);
    assert.equal(
      call.url,
      `https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse`,
    );
    assert.equal(call.headers.host, 'bedrock-runtime.us-east-1.amazonaws.com');
    assert.equal(call.headers.accept, 'application/json');
    assert.equal(
      call.headers['x-amz-content-sha256'],
      createHash('sha256').update(String(call.body)).digest('hex'),
    );
    assert.match(call.headers['x-amz-date'] ?? '', /^\d{8}T\d{6}Z$/);
    assert.match(
      call.headers.authorization ?? '',
      /^AWS4-HMAC-SHA256 Credential=AKIDUNITTEST01\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    assert.equal(call.headers['x-amz-security-token'], undefined);
    assert.ok(!JSON.stringify(call).includes(AWS.secretAccessKey), 'the secret never leaves');
  });

  it('streams through converse-stream, asking for the event stream; ARNs keep their slash encoded', async () => {
    const p = provider(`accessKeyId: ${AWS.accessKeyId}, secretAccessKey: ${AWS.secretAccessKey}`);
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3';
    const call = await p.chatCall({ ...REQUEST, stream: true }, { model: arn }, TEST_CALL);
    assert.equal(
      call.url,
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse-stream',
    );
    assert.equal(call.headers.accept, 'application/vnd.amazon.eventstream');
  });

  it('a session token is sent and signed as x-amz-security-token; configured headers go unsigned', async () => {
    const p = provider(
      `accessKeyId: A, secretAccessKey: B, sessionToken: TOKEN123, headers: { x-team: research }`,
    );
    const call = await p.chatCall(REQUEST, { model: PROFILE }, TEST_CALL);
    assert.equal(call.headers['x-amz-security-token'], 'TOKEN123');
    assert.match(
      call.headers.authorization ?? '',
      /SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
    );
    assert.equal(call.headers['x-team'], 'research');
  });

  it('a Bedrock API key is a Bearer token instead of a signature', async () => {
    const call = await provider('apiKey: bedrock-key-1').chatCall(REQUEST, { model: PROFILE }, TEST_CALL);
    assert.equal(call.headers.authorization, 'Bearer bedrock-key-1');
    assert.equal(call.headers['x-amz-date'], undefined);
  });

  it('falls back to AWS_* environment variables, then AWS_BEARER_TOKEN_BEDROCK; none is a 502 without secrets', async () => {
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDFROMENV',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 'envtoken',
    };
    const signed = await provider('', env).chatCall(REQUEST, { model: PROFILE }, TEST_CALL);
    assert.match(signed.headers.authorization ?? '', /Credential=AKIDFROMENV\//);
    assert.equal(signed.headers['x-amz-security-token'], 'envtoken');
    const bearer = await provider('', { AWS_BEARER_TOKEN_BEDROCK: 'env-key' }).chatCall(
      REQUEST,
      {
        model: PROFILE,
      },
      TEST_CALL,
    );
    assert.equal(bearer.headers.authorization, 'Bearer env-key');
    await assert.rejects(
      provider('', {}).chatCall(REQUEST, { model: PROFILE }, TEST_CALL),
      (err: unknown) =>
        err instanceof UpstreamError &&
        err.failure.kind === 'auth' &&
        /credentials unavailable for .*none configured/.test(err.message),
    );
  });

  it('an endpoint override replaces the origin (trailing slashes trimmed)', async () => {
    const p = provider('endpoint: "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/", apiKey: k');
    const call = await p.chatCall(REQUEST, { model: 'amazon.nova-pro-v1:0' }, TEST_CALL);
    assert.equal(
      call.url,
      'https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/model/amazon.nova-pro-v1%3A0/converse',
    );
  });
});

describe('bedrock provider against the simulated Bedrock (its SigV4 verifier)', () => {
  let sim: SimCloud;
  before(async () => {
    sim = await startSimCloud({ kind: 'bedrock', region: 'us-east-1', aws: AWS });
  });
  after(() => sim.close());

  it('the signed Converse call is accepted and decodes', async () => {
    const p = provider(
      `endpoint: "${sim.url}", accessKeyId: ${AWS.accessKeyId}, secretAccessKey: ${AWS.secretAccessKey}`,
    );
    const res = await send(await p.chatCall(REQUEST, { model: PROFILE }, TEST_CALL));
    assert.equal(res.status, 200, res.text);
    const events = p.decodeChat(JSON.parse(res.text), REQUEST);
    assert.deepEqual(events[1], {
      type: 'text',
      choice: 0,
      text: `Hello from simulated AWS Bedrock (${PROFILE}). You said: hello bedrock`,
    });
  });

  it('the golden Converse bodies pass the simulated service validation', async () => {
    const bodies = [
      'request-tool-round-trip',
      'request-tool-choice-none',
      'request-json-schema',
      'request-json-object-with-tools',
      'request-leading-assistant',
    ];
    for (const name of bodies) {
      const text = readFileSync(path.join(FIXTURES, 'bedrock', `${name}.json`), 'utf8');
      const res = await fetch(`${sim.url}/model/${encodeURIComponent(PROFILE)}/converse`, {
        method: 'POST',
        headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
        body: text,
      });
      assert.equal(res.status, 200, `${name}: ${await res.text()}`);
    }
  });

  it('a wrong secret is a 403 InvalidSignatureException, classified as auth, the secret never echoed', async () => {
    const p = provider(
      `endpoint: "${sim.url}", accessKeyId: ${AWS.accessKeyId}, secretAccessKey: wrong-secret-value`,
    );
    const res = await send(await p.chatCall(REQUEST, { model: PROFILE }, TEST_CALL));
    assert.equal(res.status, 403);
    const failure = p.classifyError(res.status, res.headers, res.text);
    assert.equal(failure.kind, 'auth');
    assert.match(
      failure.message,
      /^InvalidSignatureException: The request signature we calculated does not match/,
    );
    assert.ok(!failure.message.includes('wrong-secret-value'));
  });

  it('signing the singly encoded path (the classic mistake) is refused, as by the real service', async () => {
    const url = new URL(`${sim.url}/model/${encodeURIComponent(PROFILE)}/converse`);
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
    const signer = new SignatureV4({
      service: 'bedrock',
      region: 'us-east-1',
      sha256: Sha256,
      credentials: AWS,
      uriEscapePath: false,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const res = await send({ method: 'POST', url: url.href, headers: signed.headers, body });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['x-amzn-errortype']), /^InvalidSignatureException:/);
  });
});

describe('inferenceProfileResidency', () => {
  const cases: [string, string, ReturnType<typeof inferenceProfileResidency>][] = [
    [
      'anthropic.claude-3-5-sonnet-20240620-v1:0',
      'eu-central-1',
      { scope: 'in-region', regions: ['eu-central-1'] },
    ],
    [PROFILE, 'us-east-1', { scope: 'geography', geography: 'us', regions: ['us-east-*', 'us-west-*'] }],
    ['eu.amazon.nova-pro-v1:0', 'eu-west-1', { scope: 'geography', geography: 'eu', regions: ['eu-*'] }],
    [
      'apac.anthropic.claude-sonnet-4-20250514-v1:0',
      'ap-southeast-1',
      { scope: 'geography', geography: 'apac', regions: ['ap-*'] },
    ],
    [
      'us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'us-gov-west-1',
      { scope: 'geography', geography: 'us-gov', regions: ['us-gov-*'] },
    ],
    [
      'jp.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'ap-northeast-1',
      { scope: 'geography', geography: 'jp', regions: ['ap-northeast-1', 'ap-northeast-3'] },
    ],
    [
      'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'us-east-1',
      { scope: 'global', geography: 'global', regions: ['*'] },
    ],
    [
      'arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0',
      'us-east-1',
      { scope: 'geography', geography: 'eu', regions: ['eu-*'] },
    ],
    // An application profile may copy a cross-region or global profile, and its ARN does not say
    // which: it fails closed as global.
    [
      'arn:aws:bedrock:eu-west-3:123456789012:application-inference-profile/a1b2c3',
      'us-east-1',
      { scope: 'global', geography: 'global', regions: ['*'] },
    ],
    [
      'arn:aws:bedrock:eu-west-3:123456789012:provisioned-model/abc123',
      'us-east-1',
      { scope: 'in-region', regions: ['eu-west-3'] },
    ],
  ];
  for (const [model, region, expected] of cases) {
    it(`${model} in ${region}`, () => assert.deepEqual(inferenceProfileResidency(model, region), expected));
  }
});

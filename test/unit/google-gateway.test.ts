/**
 * The Google adapters inside the gateway, driven by the openai SDK against the simulated clouds:
 * what the capability matrix cannot see. A Gemini 3 thought signature survives the round trip
 * through the client's tool-call id; Vertex gets no function-part ids; streamed calls carry the same
 * id as whole ones; credential problems are 502s that hold no secret; refusals are 400s.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { parseConfigText } from '../../src/config/index.ts';
import { SKIP_SIGNATURE } from '../../src/providers/google/encode.ts';
import { decodeToolCallId } from '../../src/providers/google/tool-ids.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';

const KEY = 'sk-google-gateway-1';
const PROJECT = 'gw-project';
const EMAIL = `gw@${PROJECT}.iam.gserviceaccount.com`;
const pair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const good = pair();
const wrong = pair();

let gemini: SimCloud;
let vertex: SimCloud;
let gateway: RunningGateway;
let client: OpenAI;
let dir: string;

before(async () => {
  gemini = await startSimCloud({ kind: 'gemini', apiKeys: ['gm-key'] });
  vertex = await startSimCloud({
    kind: 'vertex',
    google: { project: PROJECT, serviceAccount: { clientEmail: EMAIL, publicKeyPem: good.publicKey } },
  });
  dir = await mkdtemp(join(tmpdir(), 'switchyard-google-gw-'));
  const keyFile = async (name: string, privateKey: string) => {
    const path = join(dir, name);
    await writeFile(
      path,
      JSON.stringify({
        type: 'service_account',
        private_key: privateKey,
        client_email: EMAIL,
        token_uri: `${vertex.url}/token`,
      }),
    );
    return path;
  };
  const yaml = `
routing:
  retry: { maxAttempts: 1 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: gem, type: gemini, endpoint: ${gemini.url}, apiKey: gm-key }
  - { id: gem-badkey, type: gemini, endpoint: ${gemini.url}, apiKey: not-the-key }
  - { id: vtx, type: vertex, region: us-central1, project: ${PROJECT}, endpoint: ${vertex.url}, serviceAccountFile: ${await keyFile('good.json', good.privateKey)} }
  - { id: vtx-badsa, type: vertex, region: us-central1, project: ${PROJECT}, endpoint: ${vertex.url}, serviceAccountFile: ${await keyFile('wrong.json', wrong.privateKey)} }
models:
  - { name: g3, deployments: [{ provider: gem, model: gemini-3-pro-preview }] }
  - { name: badkey, deployments: [{ provider: gem-badkey, model: gemini-2.5-flash }] }
  - { name: v, deployments: [{ provider: vtx, model: gemini-2.5-flash }] }
  - { name: badsa, deployments: [{ provider: vtx-badsa, model: gemini-2.5-flash }] }
keys:
  - { name: t, key: ${KEY} }
`;
  gateway = await startGateway(parseConfigText(yaml, join(dir, 'config.yaml'), {}), {
    port: 0,
    host: '127.0.0.1',
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  await gateway.shutdown(0);
  await gemini.close();
  await vertex.close();
  await rm(dir, { recursive: true, force: true });
});

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

async function failure(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  return assert.fail('expected the call to fail');
}

type Json = Record<string, unknown>;
const lastBody = (sim: SimCloud) => sim.requests().at(-1)?.body as Json;
const modelTurnParts = (body: Json) =>
  ((body.contents as Json[]).find((c) => c.role === 'model')?.parts ?? []) as Json[];

describe('google adapters through the gateway', () => {
  it('Gemini 3: the thought signature rides in the tool-call id and comes back on the replayed call', async () => {
    const question = { role: 'user' as const, content: 'weather in Oslo?' };
    const first = await client.chat.completions.create({
      model: 'g3',
      tools: [weather],
      tool_choice: 'required',
      messages: [question],
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    assert.ok(call?.type === 'function');
    const carried = decodeToolCallId(call.id);
    assert.ok(carried.signature && carried.signature !== SKIP_SIGNATURE);
    assert.match(call.id, /^[A-Za-z0-9_-]+$/);

    const stream = client.chat.completions.stream({
      model: 'g3',
      tools: [weather],
      tool_choice: 'required',
      messages: [question],
    });
    const streamed = (await stream.finalChatCompletion()).choices[0]?.message.tool_calls?.[0];
    assert.ok(streamed?.type === 'function');
    assert.deepEqual(decodeToolCallId(streamed.id), carried, 'the same signature when streamed');

    gemini.clearRequests();
    const second = await client.chat.completions.create({
      model: 'g3',
      tools: [weather],
      messages: [
        question,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
    });
    assert.equal(second.choices[0]?.message.content, 'Tool results: get_weather=sunny');
    const parts = modelTurnParts(lastBody(gemini));
    assert.equal(parts[0]?.thoughtSignature, carried.signature);
    const tools = lastBody(gemini).tools as Json[];
    assert.ok(!JSON.stringify(tools).includes('additionalProperties'), 'schemas are converted');
  });

  it('Vertex: v1 path, Bearer token, and no id on any function part', async () => {
    vertex.clearRequests();
    const data = await client.chat.completions.create({
      model: 'v',
      tools: [weather],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    assert.equal(data.choices[0]?.message.content, 'Tool results: get_weather=sunny');
    const recorded = vertex.requests().at(-1);
    assert.equal(
      recorded?.path,
      `/v1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`,
    );
    assert.equal(recorded?.headers.authorization, 'Bearer [redacted]');
    assert.ok(!JSON.stringify(recorded?.body).includes('"id"'));
  });

  it('refused parameters are 400s naming them; n is honoured with candidateCount', async () => {
    const err = await failure(
      client.chat.completions.create({
        model: 'v',
        logprobs: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.param, 'logprobs');
    assert.equal(err.message, '400 logprobs: not supported by Vertex AI (no token log-probabilities)');
    const two = await client.chat.completions.create({
      model: 'v',
      n: 2,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(two.choices.length, 2);
    assert.equal((lastBody(vertex).generationConfig as Json).candidateCount, 2);
  });

  it('a wrong Gemini API key is a 502 (the deployment is misconfigured), not the client’s 400', async () => {
    const err = await failure(
      client.chat.completions.create({ model: 'badkey', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(err.status, 502);
    // The client learns which deployment's credentials failed, not the cloud's text about them.
    assert.match(
      err.message,
      /gem-badkey\/gemini-2\.5-flash: failed 400 \(auth: credentials rejected by the cloud \(HTTP 400\)\)/,
    );
    assert.doesNotMatch(err.message, /API key not valid/);
    assert.ok(!err.message.includes('not-the-key'));
  });

  it('a service account the token endpoint refuses: 502 naming the cause, no key material', async () => {
    const err = await failure(
      client.chat.completions.create({ model: 'badsa', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(err.status, 502);
    assert.match(
      err.message,
      /vtx-badsa\/gemini-2\.5-flash: failed \(auth: credentials unavailable for this deployment\)/,
    );
    // The service account's email, token_uri and key-file path are the operator's business.
    assert.doesNotMatch(err.message, /invalid_grant|token|iam\.gserviceaccount|\.json/);
    assert.ok(!err.message.includes('PRIVATE KEY'));
    assert.ok(!JSON.stringify(err.error).includes(wrong.privateKey.slice(50, 90)));
  });
});

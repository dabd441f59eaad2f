/**
 * Fidelity of the simulated Vertex AI and Gemini API, driven by the official @google/genai SDK:
 * Vertex mode with a generated service account (google-auth-library signs the JWT; its token
 * request is pointed at the sim's token endpoint through the documented gaxios `fetchImplementation`
 * transporter option, because the library posts to oauth2.googleapis.com whatever token_uri says),
 * and API-key mode. Then the raw wire: SSE framing, error envelopes, and the validation rules the
 * gateway's translation is checked against.
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApiError, FunctionCallingConfigMode, GoogleGenAI, Type } from '@google/genai';
import { collect, field, postJson, sseData, useSim } from './helpers.ts';

const PROJECT = 'sim-project';
const EMAIL = `sdk@${PROJECT}.iam.gserviceaccount.com`;
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const vertexSim = await useSim({
  kind: 'vertex',
  region: 'europe-west4',
  models: ['gemini-2.5-flash', 'text-embedding-005'],
  google: { project: PROJECT, serviceAccount: { clientEmail: EMAIL, publicKeyPem: publicKey } },
});
const geminiSim = await useSim({ kind: 'gemini', apiKeys: ['gm-key-1'] });

/** Token URLs google-auth-library asked for, before being pointed at the sim. */
const tokenUrlsAsked: string[] = [];
const redirectTokenRequests = (async (input: string | URL | Request, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  tokenUrlsAsked.push(url);
  return fetch(url.replace('https://oauth2.googleapis.com/token', `${vertexSim.url}/token`), init);
}) as typeof fetch;

const credentials = {
  type: 'service_account',
  project_id: PROJECT,
  private_key_id: 'sdk-key-1',
  private_key: privateKey,
  client_email: EMAIL,
  client_id: '100000000000000000002',
  token_uri: `${vertexSim.url}/token`,
};
const vertex = new GoogleGenAI({
  vertexai: true,
  project: PROJECT,
  location: 'europe-west4',
  googleAuthOptions: {
    credentials,
    clientOptions: { transporterOptions: { fetchImplementation: redirectTokenRequests } },
  },
  httpOptions: { baseUrl: vertexSim.url },
});
const gemini = new GoogleGenAI({ apiKey: 'gm-key-1', httpOptions: { baseUrl: geminiSim.url } });

const weatherTool = {
  functionDeclarations: [
    {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: Type.OBJECT,
        properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER } },
        required: ['city'],
      },
    },
  ],
};

async function apiError(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  return assert.fail('expected an ApiError');
}

describe('vertex sim with @google/genai (service account)', () => {
  it('generateContent: text, usage, Vertex fields; Bearer token from the sim token endpoint', async () => {
    vertexSim.clearRequests();
    const response = await vertex.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'hello vertex',
    });
    assert.equal(response.text, 'Hello from simulated Vertex AI (gemini-2.5-flash). You said: hello vertex');
    assert.equal(response.candidates?.[0]?.finishReason, 'STOP');
    assert.deepEqual(
      [response.usageMetadata?.promptTokenCount, response.usageMetadata?.candidatesTokenCount],
      [2, 10],
    );
    assert.equal(response.usageMetadata?.trafficType, 'ON_DEMAND');
    assert.ok(response.createTime);
    // google-auth-library ignores token_uri (src/sim/README.md); the transporter option points it at the sim.
    assert.deepEqual([...new Set(tokenUrlsAsked)], ['https://oauth2.googleapis.com/token']);
    const paths = vertexSim.requests().map((r) => r.path);
    assert.ok(
      paths.includes(
        `/v1beta1/projects/${PROJECT}/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent`,
      ),
    );
    const call = vertexSim.requests().find((r) => r.path.endsWith(':generateContent'));
    assert.equal(call?.headers.authorization, 'Bearer [redacted]');
  });

  it('generateContentStream: incremental text, usage on every chunk, finishReason only last', async () => {
    const chunks = await collect(
      await vertex.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'go [sim:words=5]' }),
    );
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'word1 word2 word3 word4 word5');
    assert.deepEqual(
      chunks.map((c) => c.candidates?.[0]?.finishReason ?? null),
      [null, null, null, null, 'STOP'],
    );
    assert.deepEqual(
      chunks.map((c) => c.usageMetadata?.candidatesTokenCount),
      [1, 2, 3, 4, 5],
    );
  });

  it('function calling: ANY mode calls with schema-sampled args; the response round trip', async () => {
    const question = { role: 'user', parts: [{ text: 'weather in Oslo?' }] };
    const first = await vertex.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [question],
      config: {
        tools: [weatherTool],
        toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } },
      },
    });
    assert.deepEqual(first.functionCalls, [{ name: 'get_weather', args: { city: 'sample', days: 1 } }]);
    assert.equal(first.candidates?.[0]?.finishReason, 'STOP', 'no tool-call finish reason (pitfall 14)');
    const modelTurn = first.candidates?.[0]?.content;
    assert.ok(modelTurn);
    const second = await vertex.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        question,
        modelTurn,
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'get_weather', response: { content: 'sunny' } } }],
        },
      ],
      config: { tools: [weatherTool] },
    });
    assert.equal(second.text, 'Tool results: get_weather=sunny');
  });

  it('Vertex refuses `id` on function parts (pitfall 11)', async () => {
    const err = await apiError(
      vertex.models.generateContent({
        model: 'gemini-2.5-flash',
        contents: [
          { role: 'user', parts: [{ text: 'weather?' }] },
          {
            role: 'model',
            parts: [{ functionCall: { id: 'fc-1', name: 'get_weather', args: { city: 'Oslo' } } }],
          },
          {
            role: 'user',
            parts: [{ functionResponse: { name: 'get_weather', response: { content: 'sunny' } } }],
          },
        ],
      }),
    );
    assert.equal(err.status, 400);
    assert.match(
      err.message,
      /Unknown name \\"id\\" at 'contents\[1\]\.parts\[0\]\.function_call': Cannot find field\./,
    );
  });

  it('embedContent on a text-embedding model goes to :predict', async () => {
    vertexSim.clearRequests();
    const result = await vertex.models.embedContent({
      model: 'text-embedding-005',
      contents: ['alpha beta', 'gamma'],
      config: { outputDimensionality: 4 },
    });
    assert.deepEqual(
      result.embeddings?.map((e) => [e.values?.length, e.statistics?.tokenCount]),
      [
        [4, 2],
        [4, 1],
      ],
    );
    assert.match(vertexSim.requests().at(-1)?.path ?? '', /text-embedding-005:predict$/);
  });

  it('a 429 fault surfaces as ApiError 429 with RetryInfo; the content filter as SAFETY', async () => {
    vertexSim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 2500 }]);
    const err = await apiError(vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }));
    assert.equal(err.status, 429);
    const body = JSON.parse(err.message) as unknown;
    assert.equal(field(body, 'error', 'status'), 'RESOURCE_EXHAUSTED');
    assert.match(String(field(body, 'error', 'message')), /^Resource exhausted/);
    const details = field(body, 'error', 'details') as Record<string, unknown>[];
    assert.equal(details.find((d) => String(d['@type']).endsWith('RetryInfo'))?.retryDelay, '2.5s');

    const filtered = await vertex.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'x [sim:finish=content_filter]',
    });
    const candidate = filtered.candidates?.[0];
    assert.equal(candidate?.finishReason, 'SAFETY');
    assert.equal(candidate?.content, undefined);
    assert.ok(candidate?.safetyRatings?.some((r) => r.blocked === true && r.probability === 'HIGH'));
  });

  it('unknown model → 404 NOT_FOUND naming the publisher model', async () => {
    const err = await apiError(vertex.models.generateContent({ model: 'gemini-0-nope', contents: 'hi' }));
    assert.equal(err.status, 404);
    assert.match(
      err.message,
      /Publisher Model `projects\/sim-project\/locations\/europe-west4\/publishers\/google\/models\/gemini-0-nope` was not found/,
    );
  });
});

describe('gemini sim with @google/genai (API key)', () => {
  it('generateContent and generateContentStream agree; the key travels in x-goog-api-key', async () => {
    geminiSim.clearRequests();
    const whole = await gemini.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'hello gemini',
    });
    assert.equal(whole.text, 'Hello from simulated Gemini API (gemini-2.5-flash). You said: hello gemini');
    assert.ok(whole.responseId);
    const chunks = await collect(
      await gemini.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hello gemini' }),
    );
    assert.equal(chunks.map((c) => c.text ?? '').join(''), whole.text);
    assert.equal(chunks.at(-1)?.usageMetadata?.totalTokenCount, whole.usageMetadata?.totalTokenCount);
    const recorded = geminiSim.requests();
    assert.equal(recorded[0]?.headers['x-goog-api-key'], '[redacted]');
    assert.deepEqual(recorded[1]?.query, { alt: 'sse' });
  });

  it('Gemini 3 signs its calls; a replay must carry the signature (pitfall 12)', async () => {
    const model = 'gemini-3-flash-preview';
    const question = { role: 'user', parts: [{ text: 'weather?' }] };
    const first = await gemini.models.generateContent({
      model,
      contents: [question],
      config: {
        tools: [weatherTool],
        toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } },
      },
    });
    const modelTurn = first.candidates?.[0]?.content;
    const signature = modelTurn?.parts?.[0]?.thoughtSignature;
    assert.ok(modelTurn && signature, 'the first call part carries a thoughtSignature');
    const answer = {
      role: 'user',
      parts: [{ functionResponse: { name: 'get_weather', response: { content: 'rain' } } }],
    };
    const replay = await gemini.models.generateContent({ model, contents: [question, modelTurn, answer] });
    assert.equal(replay.text, 'Tool results: get_weather=rain');

    const unsigned = {
      role: 'model',
      parts: [{ functionCall: { name: 'get_weather', args: { city: 'Oslo' } } }],
    };
    const err = await apiError(
      gemini.models.generateContent({ model, contents: [question, unsigned, answer] }),
    );
    assert.equal(err.status, 400);
    assert.match(err.message, /Function call is missing a thought_signature in functionCall parts/);
  });

  it('embedContent uses :batchEmbedContents', async () => {
    const result = await gemini.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['a', 'b', 'c'],
    });
    assert.equal(result.embeddings?.length, 3);
    assert.equal(result.embeddings?.[0]?.values?.length, 8);
    assert.match(geminiSim.requests().at(-1)?.path ?? '', /gemini-embedding-001:batchEmbedContents$/);
  });

  it('a 429 fault surfaces as ApiError 429; a wrong key as 400 API_KEY_INVALID', async () => {
    geminiSim.addFaults([{ kind: 'status', status: 429 }]);
    const throttled = await apiError(
      gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }),
    );
    assert.equal(throttled.status, 429);
    assert.match(throttled.message, /"retryDelay":"1s"/);
    const wrong = new GoogleGenAI({ apiKey: 'nope', httpOptions: { baseUrl: geminiSim.url } });
    const err = await apiError(wrong.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }));
    assert.equal(err.status, 400);
    assert.match(err.message, /API key not valid.*API_KEY_INVALID/);
  });
});

describe('google sims on the wire', () => {
  const url = (method: string, model = 'gemini-2.5-flash') =>
    `${geminiSim.url}/v1beta/models/${model}:${method}`;
  const key = { 'x-goog-api-key': 'gm-key-1' };
  const user = (text: string) => ({ role: 'user', parts: [{ text }] });
  const call = {
    role: 'model',
    parts: [{ functionCall: { name: 'f', args: {} } }, { functionCall: { name: 'g', args: {} } }],
  };
  const responses = (...names: string[]) => ({
    role: 'user',
    parts: names.map((name) => ({ functionResponse: { name, response: { content: 'ok' } } })),
  });
  const post = (body: unknown, method = 'generateContent') => postJson(url(method), body, key);

  it('alt=sse: data lines only, no [DONE], finishReason only on the last chunk', async () => {
    const res = await post({ contents: [user('[sim:words=3]')] }, 'streamGenerateContent?alt=sse');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseData(res.text);
    assert.equal(events.length, 3);
    assert.ok(!res.text.includes('[DONE]'));
    const finishes = events.map((e) => field(JSON.parse(e), 'candidates', 0, 'finishReason') ?? null);
    assert.deepEqual(finishes, [null, null, 'STOP']);
  });

  it('without alt=sse the stream is one JSON array', async () => {
    const res = await post({ contents: [user('[sim:words=2]')] }, 'streamGenerateContent');
    assert.ok(Array.isArray(res.json) && res.json.length === 2);
  });

  it('a mid-stream cut ends the body after the given number of events', async () => {
    geminiSim.addFaults([{ kind: 'cut', afterChunks: 2 }]);
    const res = await fetch(`${url('streamGenerateContent')}?alt=sse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key },
      body: JSON.stringify({ contents: [user('[sim:words=9]')] }),
    });
    const text = await res.text().catch(() => '');
    assert.ok(sseData(text).length <= 2);
  });

  it('validation: function-response count, alternation, unknown schema keywords, function names', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { contents: [user('go'), call, responses('f')] },
        /number of function response parts is equal to the number of function call parts/,
      ],
      [{ contents: [user('a'), user('b')] }, /alternate between user and model/],
      [
        { contents: [user('go'), { role: 'model', parts: [{ text: 'hm' }] }, responses('f')] },
        /function response turn comes immediately after a function call turn/,
      ],
      [{ contents: [] }, /contents is not specified/],
      [
        {
          contents: [user('go')],
          tools: [
            {
              functionDeclarations: [
                {
                  name: 'f',
                  parameters: {
                    type: 'object',
                    additionalProperties: false,
                    properties: { a: { type: 'string' } },
                  },
                },
              ],
            },
          ],
        },
        /Unknown name "additionalProperties" at 'tools\[0\]\.function_declarations\[0\]\.parameters'/,
      ],
      [
        {
          contents: [user('go')],
          tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: ['string', 'null'] } }] }],
        },
        /Proto field is not repeating/,
      ],
      [
        {
          contents: [user('go')],
          tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object', properties: {} } }] }],
        },
        /should be non-empty for OBJECT type/,
      ],
      [
        { contents: [user('go')], tools: [{ functionDeclarations: [{ name: 'bad name' }] }] },
        /Invalid function name/,
      ],
      [
        { contents: [user('go')], generationConfig: { maxTokens: 3 } },
        /Unknown name "maxTokens" at 'generation_config'/,
      ],
      [{ contents: [user('go')], labels: { a: 'b' } }, /Unknown name "labels"/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(field(res.json, 'error', 'status'), 'INVALID_ARGUMENT');
      assert.match(String(field(res.json, 'error', 'message')), message);
    }
    const ok = await post({ contents: [user('go'), call, responses('f', 'g')] });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(field(ok.json, 'candidates', 0, 'content', 'parts', 0, 'text'), 'Tool results: f=ok; g=ok');
  });

  it('auth: missing key 403, missing Vertex token 401 with the Google envelope; unknown paths 404 HTML', async () => {
    const noKey = await postJson(url('generateContent'), { contents: [user('x')] });
    assert.equal(noKey.status, 403);
    assert.equal(field(noKey.json, 'error', 'status'), 'PERMISSION_DENIED');
    const vertexUrl = `${vertexSim.url}/v1/projects/${PROJECT}/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent`;
    const noToken = await postJson(vertexUrl, { contents: [user('x')] });
    assert.equal(noToken.status, 401);
    assert.equal(field(noToken.json, 'error', 'status'), 'UNAUTHENTICATED');
    const forged = await postJson(
      vertexUrl,
      { contents: [user('x')] },
      { authorization: 'Bearer ya29.forged' },
    );
    assert.equal(forged.status, 401);
    const otherProject = await postJson(
      vertexUrl.replace(PROJECT, 'someone-else'),
      {},
      { authorization: 'Bearer x' },
    );
    assert.equal(otherProject.status, 401, 'auth is checked before the resource');
    const page = await postJson(`${geminiSim.url}/v1beta/nothing`, {}, key);
    assert.equal(page.status, 404);
    assert.match(page.text, /Error 404 \(Not Found\)/);
  });

  it('token endpoint: wrong grant, bad signature and bad audience are OAuth errors', async () => {
    const form = async (fields: Record<string, string>) => {
      const res = await fetch(`${vertexSim.url}/token`, {
        method: 'POST',
        body: new URLSearchParams(fields),
      });
      return { status: res.status, json: (await res.json()) as unknown };
    };
    const grant = await form({ grant_type: 'client_credentials' });
    assert.deepEqual([grant.status, field(grant.json, 'error')], [400, 'unsupported_grant_type']);
    const { SignJWT, importPKCS8 } = await import('jose');
    const other = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const sign = async (pem: string, aud: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ scope: 'https://www.googleapis.com/auth/cloud-platform' })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(EMAIL)
        .setAudience(aud)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(await importPKCS8(pem, 'RS256'));
    };
    const grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
    const forged = await form({
      grant_type: grantType,
      assertion: await sign(other.privateKey, `${vertexSim.url}/token`),
    });
    assert.deepEqual(
      [forged.status, field(forged.json, 'error_description')],
      [400, 'Invalid JWT Signature.'],
    );
    const audience = await form({
      grant_type: grantType,
      assertion: await sign(privateKey, 'https://elsewhere/token'),
    });
    assert.match(String(field(audience.json, 'error_description')), /Failed audience check/);
    const good = await form({
      grant_type: grantType,
      assertion: await sign(privateKey, `${vertexSim.url}/token`),
    });
    assert.equal(good.status, 200);
    assert.equal(field(good.json, 'token_type'), 'Bearer');
    assert.equal(field(good.json, 'expires_in'), 3599);
    // A valid token for a project the service account does not belong to.
    const elsewhere = await postJson(
      `${vertexSim.url}/v1/projects/someone-else/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent`,
      { contents: [{ role: 'user', parts: [{ text: 'x' }] }] },
      { authorization: `Bearer ${String(field(good.json, 'access_token'))}` },
    );
    assert.equal(elsewhere.status, 403);
    assert.equal(field(elsewhere.json, 'error', 'status'), 'PERMISSION_DENIED');
    assert.match(
      String(field(elsewhere.json, 'error', 'message')),
      /Permission 'aiplatform\.endpoints\.predict' denied/,
    );
  });
});

/**
 * Fidelity of the simulated AWS Bedrock, driven by the official `@aws-sdk/client-bedrock-runtime`
 * (SigV4 signed by the SDK itself, HTTP/1.1 through NodeHttpHandler since the SDK defaults to h2).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BedrockRuntimeClient,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelCommand,
  type Message,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { EventStreamReader } from '../../src/providers/bedrock/eventstream.ts';
import { collect, field, postJson, useSim } from './helpers.ts';

const region = 'eu-west-1';
const aws = { accessKeyId: 'AKIDSIMTEST0001', secretAccessKey: 'sim-secret-0001' };
const modelId = 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0';
const sim = await useSim({ kind: 'bedrock', region, aws, apiKeys: ['bedrock-api-key-1'] });

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }, clientRegion = region) {
  return new BedrockRuntimeClient({
    endpoint: sim.url,
    region: clientRegion,
    credentials,
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
}
const client = clientWith(aws);
const user = (text: string): Message => ({ role: 'user', content: [{ text }] });
const expected = `Hello from simulated AWS Bedrock (${modelId}). You said: hello bedrock`;

const weather: Tool = {
  toolSpec: {
    name: 'get_weather',
    description: 'Weather for a city',
    inputSchema: {
      json: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
      },
    },
  },
};
const time: Tool = {
  toolSpec: {
    name: 'get_time',
    inputSchema: { json: { type: 'object', properties: { zone: { type: 'string' } } } },
  },
};

/** The SDK's error for a call that must fail. */
async function sdkError(
  call: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  return assert.fail('expected the call to fail');
}

const converse = (input: Omit<ConverseCommandInput, 'modelId'>) =>
  client.send(new ConverseCommand({ modelId, ...input }));

describe('bedrock sim: Converse', () => {
  it('answers text with usage, signed by the SDK over a model id with ":"', async () => {
    sim.clearRequests();
    const out = await converse({ messages: [user('hello bedrock')], system: [{ text: 'be brief' }] });
    assert.deepEqual(out.output?.message?.content, [{ text: expected }]);
    assert.equal(out.stopReason, 'end_turn');
    assert.equal(out.usage?.totalTokens, (out.usage?.inputTokens ?? 0) + (out.usage?.outputTokens ?? 0));
    assert.ok(out.$metadata.requestId, 'x-amzn-RequestId');
    const recorded = sim.requests().at(-1)!;
    assert.equal(recorded.path, `/model/${encodeURIComponent(modelId)}/converse`);
    assert.match(recorded.path, /%3A0\/converse$/);
    assert.equal(recorded.headers.authorization, '[redacted]');
  });

  it('maxTokens → max_tokens with exactly that many output tokens; stop sequences → stop_sequence', async () => {
    const cut = await converse({ messages: [user('hi')], inferenceConfig: { maxTokens: 3 } });
    assert.equal(cut.stopReason, 'max_tokens');
    assert.equal(cut.usage?.outputTokens, 3);
    const stopped = await converse({
      messages: [user('hi')],
      inferenceConfig: { stopSequences: ['You said'] },
    });
    assert.equal(stopped.stopReason, 'stop_sequence');
    assert.ok(!JSON.stringify(stopped.output).includes('You said'));
  });

  it('calls every tool under toolChoice any, with tooluse_ ids and object inputs', async () => {
    const out = await converse({
      messages: [user('weather and time')],
      toolConfig: { tools: [weather, time], toolChoice: { any: {} } },
    });
    assert.equal(out.stopReason, 'tool_use');
    const uses = (out.output?.message?.content ?? []).map((b) => b.toolUse);
    assert.deepEqual(
      uses.map((u) => u?.name),
      ['get_weather', 'get_time'],
    );
    assert.match(uses[0]?.toolUseId ?? '', /^tooluse_[A-Za-z0-9]{24}$/);
    assert.deepEqual(uses[0]?.input, { city: 'sample', days: 1 });
  });

  it('takes tool results back and answers from them', async () => {
    const call: ContentBlock = {
      toolUse: { toolUseId: 'tooluse_oslo1', name: 'get_weather', input: { city: 'Oslo' } },
    };
    const out = await converse({
      toolConfig: { tools: [weather] },
      messages: [
        user('weather in Oslo?'),
        { role: 'assistant', content: [call] },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 'tooluse_oslo1', content: [{ text: 'sunny' }], status: 'success' } },
          ],
        },
      ],
    });
    assert.deepEqual(out.output?.message?.content, [{ text: 'Tool results: tooluse_oslo1=sunny' }]);
  });

  it('[sim:finish=content_filter] is stopReason guardrail_intervened', async () => {
    const out = await converse({ messages: [user('x [sim:finish=content_filter]')] });
    assert.equal(out.stopReason, 'guardrail_intervened');
  });

  it('rejects what Bedrock rejects with a ValidationException (pitfalls 1-4)', async () => {
    const cases: [Omit<ConverseCommandInput, 'modelId'>, RegExp][] = [
      [{ messages: [user('a'), user('b')] }, /must alternate between user and assistant/],
      [{ messages: [{ role: 'assistant', content: [{ text: 'hi' }] }] }, /must start with a user message/],
      [{ messages: [user('  ')] }, /messages\.0\.content\.0 is blank/],
      [
        {
          messages: [
            user('q'),
            { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'f', input: {} } }] },
            { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'r' }] } }] },
          ],
        },
        /toolConfig field must be defined/,
      ],
      [
        { messages: [user('hi')], inferenceConfig: { temperature: 1.5 } },
        /inferenceConfig\.temperature.*less than or equal to 1/,
      ],
      [
        {
          messages: [
            {
              role: 'user',
              content: [{ image: { format: 'jpg' as 'jpeg', source: { bytes: new Uint8Array([1]) } } }],
            },
          ],
        },
        /image\.format/,
      ],
    ];
    for (const [input, message] of cases) {
      const err = await sdkError(converse(input));
      assert.equal(err.name, 'ValidationException', err.message);
      assert.equal(err.$metadata?.httpStatusCode, 400);
      assert.match(err.message, message);
    }
  });
});

describe('bedrock sim: ConverseStream', () => {
  const streamOf = async (input: Omit<ConverseCommandInput, 'modelId'>): Promise<ConverseStreamOutput[]> => {
    const out = await client.send(new ConverseStreamCommand({ modelId, ...input }));
    assert.ok(out.stream);
    return collect(out.stream);
  };

  it('streams text in the real event order, usage in metadata after messageStop', async () => {
    const events = await streamOf({ messages: [user('hello bedrock')] });
    const kinds = events.map((e) => Object.keys(e).find((k) => k !== '$unknown'));
    assert.equal(kinds[0], 'messageStart');
    assert.deepEqual(kinds.slice(-3), ['contentBlockStop', 'messageStop', 'metadata']);
    assert.ok(!kinds.includes('contentBlockStart'), 'no contentBlockStart for text');
    const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
    assert.equal(text, expected);
    assert.equal(events.at(-2)?.messageStop?.stopReason, 'end_turn');
    assert.ok((events.at(-1)?.metadata?.usage?.outputTokens ?? 0) > 0);
  });

  it('streams toolUse: contentBlockStart per tool, input fragments that reassemble to JSON', async () => {
    const events = await streamOf({
      messages: [user('weather and time')],
      toolConfig: { tools: [weather, time], toolChoice: { any: {} } },
    });
    const starts = events.filter((e) => e.contentBlockStart).map((e) => e.contentBlockStart);
    assert.deepEqual(
      starts.map((s) => [s?.contentBlockIndex, s?.start?.toolUse?.name]),
      [
        [0, 'get_weather'],
        [1, 'get_time'],
      ],
    );
    const input = events
      .filter((e) => e.contentBlockDelta?.contentBlockIndex === 0)
      .map((e) => e.contentBlockDelta?.delta?.toolUse?.input ?? '')
      .join('');
    assert.deepEqual(JSON.parse(input), { city: 'sample', days: 1 });
    assert.equal(events.find((e) => e.messageStop)?.messageStop?.stopReason, 'tool_use');
  });

  it('frames carry the "p" padding and valid CRCs (read with the gateway reader)', async () => {
    const url = `${sim.url}/model/${encodeURIComponent(modelId)}/converse-stream`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer bedrock-api-key-1', 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [user('hi')] }),
    });
    assert.equal(res.headers.get('content-type'), 'application/vnd.amazon.eventstream');
    const frames = [...new EventStreamReader().push(new Uint8Array(await res.arrayBuffer()))];
    assert.ok(frames.length > 4);
    for (const frame of frames) {
      assert.equal(frame.headers[':message-type'], 'event');
      const payload = JSON.parse(new TextDecoder().decode(frame.payload)) as Record<string, unknown>;
      assert.match(String(payload.p), /^[a-zA-Z0-9]+$/);
    }
  });

  it('a cut fault ends the binary stream early: the SDK iteration fails', async () => {
    sim.addFaults([{ kind: 'cut', afterChunks: 3 }]);
    const out = await client.send(new ConverseStreamCommand({ modelId, messages: [user('[sim:words=40]')] }));
    assert.ok(out.stream);
    const stream = out.stream;
    await assert.rejects(() => collect(stream));
  });
});

describe('bedrock sim: auth and errors', () => {
  it('a wrong secret is 403 InvalidSignatureException', async () => {
    const err = await sdkError(
      clientWith({ accessKeyId: aws.accessKeyId, secretAccessKey: 'wrong' }).send(
        new ConverseCommand({ modelId, messages: [user('hi')] }),
      ),
    );
    assert.equal(err.name, 'InvalidSignatureException');
    assert.equal(err.$metadata?.httpStatusCode, 403);
    assert.match(err.message, /signature we calculated does not match/);
    assert.ok(!err.message.includes('wrong'), 'no secret in the message');
  });

  it('an unknown access key is UnrecognizedClientException; a wrong region InvalidSignatureException', async () => {
    const unknown = await sdkError(
      clientWith({ accessKeyId: 'AKIDOTHER', secretAccessKey: aws.secretAccessKey }).send(
        new ConverseCommand({ modelId, messages: [user('hi')] }),
      ),
    );
    assert.equal(unknown.name, 'UnrecognizedClientException');
    const wrongRegion = await sdkError(
      clientWith(aws, 'us-east-1').send(new ConverseCommand({ modelId, messages: [user('hi')] })),
    );
    assert.equal(wrongRegion.name, 'InvalidSignatureException');
  });

  it('accepts a Bedrock API key as Bearer and refuses an unknown one', async () => {
    const url = `${sim.url}/model/${encodeURIComponent(modelId)}/converse`;
    const ok = await postJson(
      url,
      { messages: [user('hello bedrock')] },
      { authorization: 'Bearer bedrock-api-key-1' },
    );
    assert.equal(ok.status, 200);
    assert.equal(field(ok.json, 'output', 'message', 'content', 0, 'text'), expected);
    const bad = await postJson(url, { messages: [user('hi')] }, { authorization: 'Bearer nope' });
    assert.equal(bad.status, 403);
    assert.match(bad.headers.get('x-amzn-errortype') ?? '', /^UnrecognizedClientException:/);
    const none = await postJson(url, { messages: [user('hi')] });
    assert.equal(none.status, 403);
    assert.deepEqual(none.json, { message: 'Missing Authentication Token' });
  });

  it('a 429 fault surfaces in the SDK as ThrottlingException', async () => {
    sim.addFaults([{ kind: 'status', status: 429 }]);
    const err = await sdkError(converse({ messages: [user('hi')] }));
    assert.equal(err.name, 'ThrottlingException');
    assert.equal(err.$metadata?.httpStatusCode, 429);
    assert.equal(err.message, 'Too many requests, please wait before trying again.');
  });

  it('500 and 503 faults are InternalServerException and ServiceUnavailableException', async () => {
    sim.addFaults([
      { kind: 'status', status: 500 },
      { kind: 'status', status: 503 },
    ]);
    assert.equal((await sdkError(converse({ messages: [user('hi')] }))).name, 'InternalServerException');
    assert.equal((await sdkError(converse({ messages: [user('hi')] }))).name, 'ServiceUnavailableException');
  });
});

describe('bedrock sim: InvokeModel embeddings', () => {
  const invoke = async (model: string, body: unknown) => {
    const out = await client.send(
      new InvokeModelCommand({
        modelId: model,
        contentType: 'application/json',
        accept: 'application/json',
        body: new TextEncoder().encode(JSON.stringify(body)),
      }),
    );
    return JSON.parse(new TextDecoder().decode(out.body)) as Record<string, unknown>;
  };

  it('Titan v2: one inputText, dimensions, inputTextTokenCount', async () => {
    const out = await invoke('amazon.titan-embed-text-v2:0', { inputText: 'alpha beta', dimensions: 256 });
    assert.equal((out.embedding as number[]).length, 256);
    assert.equal(out.inputTextTokenCount, 2);
    const err = await sdkError(invoke('amazon.titan-embed-text-v2:0', { inputText: 'x', dimensions: 8 }));
    assert.equal(err.name, 'ValidationException');
    assert.match(err.message, /dimensions: 8 is not a valid enum value/);
  });

  it('Cohere: texts and input_type in one call', async () => {
    const out = await invoke('cohere.embed-english-v3', {
      texts: ['alpha', 'beta'],
      input_type: 'search_document',
    });
    const vectors = out.embeddings as number[][];
    assert.equal(vectors.length, 2);
    assert.equal(vectors[0]?.length, 1024);
    assert.notDeepEqual(vectors[0], vectors[1]);
  });
});

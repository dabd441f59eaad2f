/**
 * Review of the native-cloud adapters (Bedrock, Gemini API / Vertex, Anthropic) against the wire
 * facts of the protocol reference (sections 3, 4, 5, 7, 8). Some tests pin bugs found in review and
 * since fixed; the others pin behaviour that was checked and found correct.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { imageFetchSchema } from '../../src/config/schema.ts';
import type { ChatMessage, ChatRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { modelTraits } from '../../src/providers/anthropic/catalog.ts';
import { decodeMessage } from '../../src/providers/anthropic/decode.ts';
import { encodeMessagesBody } from '../../src/providers/anthropic/encode.ts';
import { BedrockSigner } from '../../src/providers/bedrock/auth.ts';
import { decodeConverseResponse } from '../../src/providers/bedrock/decode.ts';
import { createConverseStreamDecoder } from '../../src/providers/bedrock/decode-stream.ts';
import { encodeConverseRequest } from '../../src/providers/bedrock/encode.ts';
import { classifyBedrockError } from '../../src/providers/bedrock/errors.ts';
import { modelOperationPath } from '../../src/providers/bedrock/models.ts';
import { decodeBatchEmbedContents } from '../../src/providers/google/embeddings.ts';
import { encodeGenerateContent, type GoogleDialect } from '../../src/providers/google/encode.ts';
import { toGeminiSchema } from '../../src/providers/google/schema.ts';
import { createImageLoader } from '../../src/providers/shared/images.ts';
import { UpstreamError } from '../../src/providers/types.ts';
import { eventFrame } from '../../src/sim/bedrock-stream.ts';
import { chunkings, runDecoder, TEST_PROVIDER_CONTEXT } from '../unit/helpers.ts';

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'm',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    stream: false,
    includeUsage: true,
    tools: [],
    stop: [],
    openai: { passthrough: {} },
    ...overrides,
  };
}

const GEMINI: GoogleDialect = { cloudName: 'Gemini API', functionCallIds: true };
const VERTEX: GoogleDialect = { cloudName: 'Vertex AI', functionCallIds: false };
const loadImage = TEST_PROVIDER_CONTEXT.loadImage;

/** A conversation with a system message later on whose text is blank (allowed by ingress). */
const LATE_BLANK_SYSTEM: ChatMessage[] = [
  { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Hello' }], toolCalls: [] },
  { role: 'system', content: [{ type: 'text', text: '' }] },
  { role: 'user', content: [{ type: 'text', text: 'more' }] },
];

/** A tool round trip: an assistant turn with two calls, then both results, then user text. */
const TOOL_ROUND: ChatMessage[] = [
  { role: 'user', content: [{ type: 'text', text: 'Weather and time?' }] },
  {
    role: 'assistant',
    content: [],
    toolCalls: [
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_time', arguments: '' },
    ],
  },
  { role: 'tool', toolCallId: 'call_a', content: [{ type: 'text', text: '{"temp":21}' }] },
  { role: 'tool', toolCallId: 'call_b', content: [{ type: 'text', text: '12:00' }] },
  { role: 'user', content: [{ type: 'text', text: 'thanks' }] },
];
const TOOLS: ChatRequest['tools'] = [
  { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
  { name: 'get_time' },
];

// ---------------------------------------------------------------------------------------------
// Bedrock
// ---------------------------------------------------------------------------------------------

describe('review: Bedrock ConverseStream decoding', () => {
  it('events of valid frames that precede a corrupted frame in the same read are still delivered', () => {
    const bad = eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lost?' } });
    const last = bad.length - 1;
    bad[last] = (bad[last] ?? 0) ^ 0xff; // break the message CRC
    const read = Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hello' } }),
      bad,
    ]);
    const outcome = runDecoder(createConverseStreamDecoder(request({ stream: true })), [read]);
    // The stream must fail (protocol), but only after the text that arrived intact went out,
    // as decode-stream.ts promises ("events decoded before a failure in the same read go out first").
    assert.equal(outcome.failure?.kind, 'protocol');
    assert.deepEqual(outcome.events, [{ type: 'start' }, { type: 'text', choice: 0, text: 'hello' }]);
  });

  it('multi-byte text, a tool with fragmented input and a no-argument tool survive every split', () => {
    const body = Buffer.concat([
      eventFrame('messageStart', { role: 'assistant', p: 'abc' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Zürich 🌍 ' }, p: 'x' }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('contentBlockStart', {
        contentBlockIndex: 1,
        start: { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather' } },
      }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Zürich"}' } } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 1 }),
      eventFrame('contentBlockStart', {
        contentBlockIndex: 2,
        start: { toolUse: { toolUseId: 'tooluse_2', name: 'get_time' } },
      }),
      eventFrame('contentBlockStop', { contentBlockIndex: 2 }),
      eventFrame('messageStop', { stopReason: 'tool_use' }),
      eventFrame('metadata', {
        usage: {
          inputTokens: 10,
          outputTokens: 5,
          totalTokens: 15,
          cacheReadInputTokens: 100,
          cacheWriteInputTokens: 7,
        },
        metrics: { latencyMs: 1 },
      }),
    ]);
    for (const { name, chunks } of chunkings(body)) {
      const outcome = runDecoder(createConverseStreamDecoder(request({ stream: true })), chunks);
      assert.equal(outcome.failure, undefined, name);
      assert.deepEqual(
        outcome.events,
        [
          { type: 'start' },
          { type: 'text', choice: 0, text: 'Zürich 🌍 ' },
          { type: 'tool_call_start', choice: 0, index: 0, id: 'tooluse_1', name: 'get_weather' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{"city":' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '"Zürich"}' },
          { type: 'tool_call_start', choice: 0, index: 1, id: 'tooluse_2', name: 'get_time' },
          { type: 'tool_call_delta', choice: 0, index: 1, arguments: '{}' },
          { type: 'finish', choice: 0, reason: 'tool_calls' },
          {
            type: 'usage',
            usage: {
              promptTokens: 117,
              completionTokens: 5,
              totalTokens: 122,
              cachedTokens: 100,
              cacheWriteTokens: 7,
            },
          },
        ],
        name,
      );
    }
  });

  it('a stream cut after messageStop but before metadata throws instead of ending quietly', () => {
    const body = Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hi' } }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
    ]);
    const outcome = runDecoder(createConverseStreamDecoder(request({ stream: true })), [body]);
    assert.equal(outcome.failure?.kind, 'protocol');
  });

  it('non-streaming: the JSON tool answer is text with finish stop; malformed_tool_use fails over', () => {
    const json = request({ responseFormat: { type: 'json_object' } });
    const events = decodeConverseResponse(
      {
        output: {
          message: {
            role: 'assistant',
            content: [{ toolUse: { toolUseId: 't', name: 'json_response', input: { a: 1 } } }],
          },
        },
        stopReason: 'tool_use',
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      },
      json,
    );
    assert.deepEqual(events.slice(1, 3), [
      { type: 'text', choice: 0, text: '{"a":1}' },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
    assert.throws(
      () =>
        decodeConverseResponse(
          { output: { message: { role: 'assistant', content: [] } }, stopReason: 'malformed_tool_use' },
          request(),
        ),
      (err: unknown) => err instanceof UpstreamError && err.failure.retryable,
    );
  });
});

describe('review: Bedrock Converse encoding', () => {
  it('tool results first in one user turn, text before toolUse, ids kept, blank args as {}', async () => {
    const body = await encodeConverseRequest(
      request({ messages: TOOL_ROUND, tools: TOOLS, toolChoice: { type: 'auto' } }),
      loadImage,
    );
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'Weather and time?' }] },
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'call_a', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'call_b', name: 'get_time', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'call_a', content: [{ text: '{"temp":21}' }] } },
          { toolResult: { toolUseId: 'call_b', content: [{ text: '12:00' }] } },
          { text: 'thanks' },
        ],
      },
    ]);
    assert.deepEqual((body.toolConfig as { toolChoice: unknown }).toolChoice, { auto: {} });
  });

  it('tool_choice none with tool history sends no toolConfig and no tool blocks (pitfall 3)', async () => {
    const body = await encodeConverseRequest(
      request({ messages: TOOL_ROUND, tools: TOOLS, toolChoice: { type: 'none' } }),
      loadImage,
    );
    assert.equal(body.toolConfig, undefined);
    const text = JSON.stringify(body.messages);
    assert.ok(!text.includes('"toolUse"') && !text.includes('"toolResult"'), text);
  });

  it('temperature above 1 is refused with a 400, a leading assistant turn gets a user turn first', async () => {
    await assert.rejects(
      encodeConverseRequest(request({ temperature: 1.5 }), loadImage),
      (err: unknown) => err instanceof GatewayError && err.status === 400,
    );
    const body = await encodeConverseRequest(
      request({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'sys' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'Hello' }], toolCalls: [] },
          { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        ],
      }),
      loadImage,
    );
    assert.deepEqual(body.system, [{ text: 'sys' }]);
    assert.deepEqual(
      (body.messages as { role: string }[]).map((m) => m.role),
      ['user', 'assistant', 'user'],
    );
  });

  it('a later blank system message adds no blank text block', async () => {
    const body = await encodeConverseRequest(request({ messages: LATE_BLANK_SYSTEM }), loadImage);
    assert.deepEqual((body.messages as unknown[]).at(-1), { role: 'user', content: [{ text: 'more' }] });
  });
});

describe('review: Bedrock SigV4 and errors', () => {
  /** The reference's algorithm (AWS Bedrock API reference: SigV4 signing details), computed independently of smithy. */
  function expectedSignature(
    path: string,
    headers: Record<string, string>,
    signedNames: string[],
    body: string,
    secret: string,
    region: string,
  ): string {
    const hex = (data: string) => createHash('sha256').update(data).digest('hex');
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const amzDate = headers['x-amz-date'] ?? '';
    const day = amzDate.slice(0, 8);
    // Non-S3: the already-encoded path is URI-encoded once more (`%3A` → `%253A`).
    const canonicalUri = path
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/');
    const canonical = [
      'POST',
      canonicalUri,
      '',
      ...signedNames.map((n) => `${n}:${(headers[n] ?? '').trim()}`),
      '',
      signedNames.join(';'),
      hex(body),
    ].join('\n');
    const scope = `${day}/${region}/bedrock/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 'bedrock'), 'aws4_request');
    return createHmac('sha256', key).update(toSign).digest('hex');
  }

  it('double-encodes `:` and an ARN `/` in the canonical URI and signs the session token', async () => {
    const model = 'arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc:1';
    const path = modelOperationPath(model, 'converse-stream');
    assert.equal(
      path,
      '/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Fabc%3A1/converse-stream',
    );
    const url = new URL(`https://bedrock-runtime.eu-west-1.amazonaws.com${path}`);
    const body = '{"messages":[]}';
    const headers = await new BedrockSigner('eu-west-1').sign(
      { url, headers: { 'content-type': 'application/json', accept: 'application/json' }, body },
      {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG',
        sessionToken: 'FwoGZXIvYXdzEXAMPLE',
      },
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    );
    assert.equal(headers['x-amz-security-token'], 'FwoGZXIvYXdzEXAMPLE');
    assert.equal(headers['x-amz-date'], '20260102T030405Z');
    const auth = headers.authorization ?? '';
    const match =
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    assert.ok(match, auth);
    const signedNames = (match[1] ?? '').split(';');
    assert.ok(signedNames.includes('x-amz-security-token'), auth);
    assert.ok(signedNames.includes('host'), auth);
    assert.equal(
      match[2],
      expectedSignature(path, headers, signedNames, body, 'wJalrXUtnFEMI/K7MDENG', 'eu-west-1'),
    );
  });

  it('classifies throttling, ModelNotReady, stream exceptions and invalid model ids', () => {
    const throttled = classifyBedrockError(
      429,
      { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
      '{"message":"Too many requests, please wait before trying again."}',
    );
    assert.equal(throttled.kind, 'throttled');
    assert.equal(
      classifyBedrockError(429, {}, '{"__type":"ModelNotReadyException","message":"x"}').kind,
      'overloaded',
    );
    const invalidModel = classifyBedrockError(
      400,
      { 'x-amzn-errortype': 'ValidationException' },
      '{"message":"The provided model identifier is invalid."}',
    );
    assert.equal(invalidModel.kind, 'not_found');
    const validation = classifyBedrockError(
      400,
      { 'x-amzn-errortype': 'ValidationException' },
      '{"message":"A conversation must alternate between user and assistant roles."}',
    );
    assert.equal(validation.kind, 'client');
    assert.equal(validation.retryable, false);
  });
});

// ---------------------------------------------------------------------------------------------
// Google (Gemini API and Vertex AI)
// ---------------------------------------------------------------------------------------------

describe('review: Google encoding', () => {
  it('a later blank system message adds no empty text part', async () => {
    const body = await encodeGenerateContent(
      request({ messages: LATE_BLANK_SYSTEM }),
      'gemini-2.5-flash',
      GEMINI,
      loadImage,
    );
    assert.deepEqual((body.contents as unknown[]).at(-1), { role: 'user', parts: [{ text: 'more' }] });
  });

  it('function responses: one per call, first in the turn, named, wrapped, ids only on the Gemini API', async () => {
    const messages: ChatMessage[] = TOOL_ROUND.map((m) =>
      m.role === 'assistant'
        ? {
            ...m,
            // ids as the gateway minted them for a Gemini answer that carried call ids
            toolCalls: m.toolCalls.map((c, i) => ({
              ...c,
              id: `call_${'A'.repeat(23)}${i}_g${Buffer.from(JSON.stringify({ i: `gid${i}` })).toString('base64url')}`,
            })),
          }
        : m.role === 'tool'
          ? {
              ...m,
              toolCallId: `call_${'A'.repeat(23)}${m.toolCallId === 'call_a' ? 0 : 1}_g${Buffer.from(
                JSON.stringify({ i: `gid${m.toolCallId === 'call_a' ? 0 : 1}` }),
              ).toString('base64url')}`,
            }
          : m,
    );
    const gemini = await encodeGenerateContent(
      request({ messages, tools: TOOLS }),
      'gemini-2.5-flash',
      GEMINI,
      loadImage,
    );
    const vertex = await encodeGenerateContent(
      request({ messages, tools: TOOLS }),
      'gemini-2.5-flash',
      VERTEX,
      loadImage,
    );
    assert.deepEqual((gemini.contents as unknown[])[2], {
      role: 'user',
      parts: [
        { functionResponse: { id: 'gid0', name: 'get_weather', response: { temp: 21 } } },
        { functionResponse: { id: 'gid1', name: 'get_time', response: { content: '12:00' } } },
        { text: 'thanks' },
      ],
    });
    const vertexJson = JSON.stringify(vertex.contents);
    assert.ok(!vertexJson.includes('"id"'), `Vertex refuses ids: ${vertexJson}`);
    assert.deepEqual((vertex.contents as { parts: unknown[] }[])[1]?.parts, [
      { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
      { functionCall: { name: 'get_time', args: {} } },
    ]);
  });

  it('a tool schema whose $ref holds a stray % is not a crash (no URIError escapes the encoder)', async () => {
    const parameters = {
      type: 'object',
      properties: { rate: { $ref: '#/$defs/100%' } },
      $defs: { '100%': { type: 'number' } },
    };
    assert.doesNotThrow(() => toGeminiSchema(parameters));
    try {
      await encodeGenerateContent(
        request({ tools: [{ name: 'f', parameters }] }),
        'gemini-2.5-flash',
        GEMINI,
        loadImage,
      );
    } catch (err) {
      assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    }
  });
});

describe('review: Google embeddings', () => {
  it('a batchEmbedContents answer without embeddings is a protocol failure, not an empty success', () => {
    assert.throws(() => decodeBatchEmbedContents({}), UpstreamError);
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------------------------

describe('review: Anthropic encoding and decoding', () => {
  const ctx = (model: string) => ({ model, traits: modelTraits(model), loadImage });

  it('a later blank system message adds no empty text block', async () => {
    const body = await encodeMessagesBody(request({ messages: LATE_BLANK_SYSTEM }), ctx('claude-sonnet-4-5'));
    assert.deepEqual((body.messages as unknown[]).at(-1), { role: 'user', content: 'more' });
  });

  it('tool_result blocks open the next user message; max_tokens defaults to the model maximum', async () => {
    const body = await encodeMessagesBody(
      request({ messages: TOOL_ROUND, tools: TOOLS }),
      ctx('us.anthropic.claude-sonnet-4-5-20250929-v1:0'),
    );
    assert.equal(body.max_tokens, 64_000);
    assert.deepEqual((body.messages as unknown[])[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_a', content: '{"temp":21}' },
        { type: 'tool_result', tool_use_id: 'call_b', content: '12:00' },
        { type: 'text', text: 'thanks' },
      ],
    });
    assert.equal((await encodeMessagesBody(request(), ctx('claude-3-5-haiku-20241022'))).max_tokens, 8_192);
  });

  it('usage adds cache reads and writes to the prompt; refusal → content_filter', () => {
    const events = decodeMessage(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [{ type: 'text', text: 'no' }],
        stop_reason: 'refusal',
        usage: {
          input_tokens: 5,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 20,
          output_tokens: 3,
        },
      },
      request(),
    );
    assert.deepEqual(events.slice(-2), [
      { type: 'finish', choice: 0, reason: 'content_filter' },
      {
        type: 'usage',
        usage: {
          promptTokens: 125,
          completionTokens: 3,
          totalTokens: 128,
          cachedTokens: 100,
          cacheWriteTokens: 20,
        },
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

describe('review: shared image loading', () => {
  it('an http URL that does not parse is a 400 naming the part, not a TypeError', async () => {
    const load = createImageLoader(
      imageFetchSchema.parse({ enabled: true, maxBytes: 1024, timeoutMs: 1000 }),
    );
    await assert.rejects(
      load('http://', 'messages[0].content[0].image_url'),
      (err: unknown) =>
        err instanceof GatewayError && err.status === 400 && err.param === 'messages[0].content[0].image_url',
    );
  });
});

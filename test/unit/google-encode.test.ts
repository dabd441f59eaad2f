/**
 * ChatRequest → GenerateContentRequest: golden bodies for the Gemini API and Vertex dialects (from a
 * real OpenAI body through ingress), then each translation rule on its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { parseChatBody } from '../../src/ingress/openai/chat.ts';
import {
  encodeGenerateContent,
  type GoogleDialect,
  SKIP_SIGNATURE,
} from '../../src/providers/google/encode.ts';
import { decodeToolCallId, encodeToolCallId } from '../../src/providers/google/tool-ids.ts';
import { fixtureJson, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const GEMINI: GoogleDialect = { cloudName: 'Gemini API', functionCallIds: true };
const VERTEX: GoogleDialect = { cloudName: 'Vertex AI', functionCallIds: false };

function requestOf(body: Record<string, unknown>): ChatRequest {
  return parseChatBody({ model: 'm', ...body });
}

const encode = (request: ChatRequest, dialect = GEMINI, model = 'gemini-2.5-flash') =>
  encodeGenerateContent(request, model, dialect, TEST_PROVIDER_CONTEXT.loadImage);

async function refusal(request: ChatRequest, dialect = GEMINI, model?: string): Promise<GatewayError> {
  try {
    await encode(request, dialect, model);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  return assert.fail('expected a GatewayError');
}

const hi = [{ role: 'user', content: 'hi' }];

describe('google encode: golden request bodies', () => {
  const request = parseChatBody(fixtureJson('google/openai-request-tools.json'));

  it('Gemini API: system, image, signed call with its Gemini id, tool results first, schemas converted', async () => {
    assert.deepEqual(await encode(request, GEMINI), fixtureJson('google/encode-gemini-tools.json'));
  });

  it('Vertex: the same, without any id on function parts (pitfall 11)', async () => {
    const body = await encode(request, VERTEX);
    assert.deepEqual(body, fixtureJson('google/encode-vertex-tools.json'));
    assert.ok(!JSON.stringify(body.contents).includes('"id"'));
  });
});

describe('google encode: rules', () => {
  it('a minimal request has only contents', async () => {
    assert.deepEqual(await encode(requestOf({ messages: hi })), {
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
    });
  });

  it('tool_choice none / required / named → mode NONE / ANY / ANY + allowedFunctionNames', async () => {
    const tools = [
      { type: 'function', function: { name: 'a' } },
      { type: 'function', function: { name: 'b' } },
    ];
    const mode = async (tool_choice: unknown) =>
      (await encode(requestOf({ messages: hi, tools, tool_choice }))).toolConfig;
    assert.deepEqual(await mode('none'), { functionCallingConfig: { mode: 'NONE' } });
    assert.deepEqual(await mode('required'), { functionCallingConfig: { mode: 'ANY' } });
    assert.deepEqual(await mode({ type: 'function', function: { name: 'b' } }), {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['b'] },
    });
    assert.equal(await mode(undefined), undefined, 'no tool_choice leaves the cloud default (AUTO)');
  });

  it('response_format json_object → JSON mime type; json_schema → responseSchema with the declared key order', async () => {
    const object = await encode(requestOf({ messages: hi, response_format: { type: 'json_object' } }));
    assert.deepEqual(object.generationConfig, { responseMimeType: 'application/json' });
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: { score: { type: 'number' }, answer: { type: 'string' } },
      required: ['score', 'answer'],
    };
    const withSchema = await encode(
      requestOf({
        messages: hi,
        response_format: { type: 'json_schema', json_schema: { name: 'v', schema, strict: true } },
      }),
    );
    assert.deepEqual(withSchema.generationConfig, {
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'object',
        properties: { score: { type: 'number' }, answer: { type: 'string' } },
        required: ['score', 'answer'],
        propertyOrdering: ['score', 'answer'],
      },
    });
  });

  it('temperature keeps OpenAI scale (Gemini is 0-2 too); max_tokens → maxOutputTokens', async () => {
    const body = await encode(requestOf({ messages: hi, temperature: 1.8, max_tokens: 3 }));
    assert.deepEqual(body.generationConfig, { temperature: 1.8, maxOutputTokens: 3 });
  });

  it('neutral OpenAI-only values (n: 1, zero penalties, logprobs: false) send nothing', async () => {
    const body = await encode(
      requestOf({ messages: hi, n: 1, presence_penalty: 0, frequency_penalty: 0, logprobs: false }),
    );
    assert.equal(body.generationConfig, undefined);
  });

  it('refuses logprobs, top_logprobs, logit_bias and OpenAI-only passthrough fields with a 400 naming them', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ logprobs: true }, 'logprobs', 'logprobs: not supported by Gemini API (no token log-probabilities)'],
      [
        { logprobs: true, top_logprobs: 2 },
        'logprobs',
        'logprobs: not supported by Gemini API (no token log-probabilities)',
      ],
      [{ logit_bias: { '42': 5 } }, 'logit_bias', 'logit_bias: not supported by Gemini API (no logit bias)'],
      [
        { reasoning_effort: 'low' },
        'reasoning_effort',
        'reasoning_effort: not supported by Gemini API (an OpenAI-only parameter)',
      ],
    ];
    for (const [extra, param, message] of cases) {
      const err = await refusal(requestOf({ messages: hi, ...extra }));
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      assert.equal(err.message, message);
    }
    const vertex = await refusal(requestOf({ messages: hi, logprobs: true }), VERTEX);
    assert.equal(vertex.message, 'logprobs: not supported by Vertex AI (no token log-probabilities)');
  });

  it('harmless passthrough fields (metadata, store, service_tier) are dropped, not refused', async () => {
    const body = await encode(
      requestOf({ messages: hi, store: true, metadata: { a: 'b' }, service_tier: 'auto' }),
    );
    assert.deepEqual(Object.keys(body), ['contents']);
  });

  it('a conversation of only system messages is refused: Gemini needs contents', async () => {
    const err = await refusal(requestOf({ messages: [{ role: 'system', content: 'x' }] }));
    assert.equal(err.param, 'messages');
    assert.equal(err.message, 'messages: Gemini API needs at least one user or assistant message');
  });

  it('a later system message stays in place as user text; consecutive same-role messages merge', async () => {
    const body = await encode(
      requestOf({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 'b' },
          { role: 'user', content: 'c' },
        ],
      }),
    );
    assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] }]);
    assert.equal(body.systemInstruction, undefined);
  });

  it('an image URL that cannot be loaded is a 400 naming the part', async () => {
    const err = await refusal(
      requestOf({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'x' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            ],
          },
        ],
      }),
    );
    assert.equal(err.param, 'messages[0].content[1].image_url');
  });

  it('tool results: JSON objects go as the response, anything else wrapped as {content}', async () => {
    const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '' } });
    const body = await encode(
      requestOf({
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: null, tool_calls: [call('c1'), call('c2'), call('c3')] },
          { role: 'tool', tool_call_id: 'c1', content: '[1,2]' },
          { role: 'tool', tool_call_id: 'c2', content: '{"ok":true}' },
          { role: 'tool', tool_call_id: 'c3', content: 'not json {' },
        ],
      }),
    );
    const contents = body.contents as { parts: Record<string, unknown>[] }[];
    assert.deepEqual(
      contents[1]?.parts.map((p) => p.functionCall),
      [
        { name: 'f', args: {} },
        { name: 'f', args: {} },
        { name: 'f', args: {} },
      ],
    );
    assert.deepEqual(
      contents[2]?.parts.map((p) => (p.functionResponse as Record<string, unknown>).response),
      [{ content: '[1,2]' }, { ok: true }, { content: 'not json {' }],
    );
  });
});

describe('google encode: thought signatures through tool-call ids (pitfall 12)', () => {
  const signed = encodeToolCallId(
    { responseId: 'r', candidate: 0, call: 0, name: 'f', argumentsJson: '{}' },
    { signature: 'AbC+/=', geminiId: 'g-9' },
  );

  it('ids use only [A-Za-z0-9_-] and round-trip what they carry', () => {
    assert.match(signed, /^call_[A-Za-z0-9]{24}_g[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeToolCallId(signed), { signature: 'AbC+/=', geminiId: 'g-9' });
    assert.deepEqual(decodeToolCallId('call_abc'), {});
    assert.deepEqual(decodeToolCallId('call_AAAAAAAAAAAAAAAAAAAAAAAA_g!!'), {});
    assert.deepEqual(decodeToolCallId(`call_${'A'.repeat(24)}_gbm90LWpzb24`), {});
  });

  function history(ids: string[]) {
    return requestOf({
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: ids.map((id) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } })),
        },
        ...ids.map((id) => ({ role: 'tool', tool_call_id: id, content: 'done' })),
      ],
    });
  }
  const modelParts = (body: Record<string, unknown>) =>
    (body.contents as { parts: Record<string, unknown>[] }[])[1]?.parts ?? [];

  it('a replayed call gets its own signature back, on any model', async () => {
    const parts = modelParts(await encode(history([signed, 'call_other']), VERTEX, 'gemini-3-pro-preview'));
    assert.equal(parts[0]?.thoughtSignature, 'AbC+/=');
    assert.equal(parts[1]?.thoughtSignature, undefined, 'parallel calls share the first signature');
  });

  it('unsigned history to a Gemini 3 model: the first call gets the documented stand-in', async () => {
    const parts = modelParts(await encode(history(['call_a', 'call_b']), GEMINI, 'gemini-3-flash-preview'));
    assert.equal(parts[0]?.thoughtSignature, SKIP_SIGNATURE);
    assert.equal(parts[1]?.thoughtSignature, undefined);
  });

  it('unsigned history to older models: no signature at all', async () => {
    const parts = modelParts(await encode(history(['call_a']), GEMINI, 'gemini-2.5-flash'));
    assert.equal(parts[0]?.thoughtSignature, undefined);
  });

  it('Gemini ids go back only on the Gemini API, and only ids Gemini issued', async () => {
    const gemini = await encode(history([signed, 'call_client']), GEMINI);
    const call = (i: number) => (modelParts(gemini)[i]?.functionCall ?? {}) as Record<string, unknown>;
    assert.equal(call(0).id, 'g-9');
    assert.equal(call(1).id, undefined);
    const responses = (gemini.contents as { parts: Record<string, unknown>[] }[])[2]?.parts ?? [];
    assert.equal((responses[0]?.functionResponse as Record<string, unknown> | undefined)?.id, 'g-9');
    const vertex = await encode(history([signed]), VERTEX);
    assert.equal((modelParts(vertex)[0]?.functionCall as Record<string, unknown> | undefined)?.id, undefined);
  });
});

/**
 * Bedrock encoding: OpenAI-shaped client bodies (parsed by the real ingress) → Converse request
 * bodies, compared with golden fixtures in test/unit/fixtures/bedrock/request-*.json. Run with
 * UPDATE_GOLDEN=1 to rewrite them after a deliberate change (then read the diff).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { parseChatBody } from '../../src/ingress/openai/chat.ts';
import { encodeConverseRequest } from '../../src/providers/bedrock/encode.ts';
import { FIXTURES, TEST_PROVIDER_CONTEXT } from './helpers.ts';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const BMP = 'data:image/bmp;base64,Qk0eAAAAAAAAABoAAAAMAAAAAQABAAEAGAAAAP8A';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  },
};
const PING = { type: 'function', function: { name: 'ping' } };

/** A tool round trip: the assistant turn has blank content, one id Bedrock would refuse. */
const HISTORY = [
  { role: 'system', content: 'Be brief.' },
  { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'Weather in Paris and Oslo? And this picture?' },
      { type: 'image_url', image_url: { url: PNG } },
    ],
  },
  {
    role: 'assistant',
    content: '',
    tool_calls: [
      {
        id: 'call_paris',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      {
        id: 'call:oslo/1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ],
  },
  { role: 'tool', tool_call_id: 'call_paris', content: '18C, sunny' },
  { role: 'tool', tool_call_id: 'call:oslo/1', content: '' },
  { role: 'user', content: 'Thanks!' },
];

const CASES: Record<string, Record<string, unknown>> = {
  'request-tool-round-trip': {
    model: 'm',
    messages: HISTORY,
    tools: [WEATHER],
    tool_choice: 'auto',
    temperature: 0.5,
    top_p: 0.9,
    max_tokens: 100,
    stop: ['END'],
    seed: 7,
    user: 'user-42',
  },
  'request-tool-choice-none': { model: 'm', messages: HISTORY, tools: [WEATHER], tool_choice: 'none' },
  'request-json-schema': {
    model: 'm',
    messages: [{ role: 'user', content: 'judge' }],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'verdict',
        schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] },
        strict: true,
      },
    },
  },
  'request-json-object-with-tools': {
    model: 'm',
    messages: [{ role: 'user', content: 'ping then answer in JSON' }],
    tools: [PING],
    response_format: { type: 'json_object' },
  },
  'request-leading-assistant': {
    model: 'm',
    messages: [
      { role: 'assistant', content: 'How can I help?' },
      { role: 'user', content: '   ' },
      { role: 'user', content: 'Hi' },
      { role: 'system', content: 'Late rule: be formal.' },
      { role: 'assistant', content: 'Hello.', refusal: null },
    ],
    tools: [PING],
    tool_choice: 'required',
  },
};

async function encode(body: Record<string, unknown>): Promise<unknown> {
  return encodeConverseRequest(parseChatBody(body), TEST_PROVIDER_CONTEXT.loadImage);
}

function golden(name: string, actual: unknown): void {
  const file = path.join(FIXTURES, 'bedrock', `${name}.json`);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
  assert.deepEqual(actual, JSON.parse(readFileSync(file, 'utf8')), `golden ${name}`);
}

async function refusal(body: Record<string, unknown>): Promise<GatewayError> {
  try {
    await encode(body);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  return assert.fail('expected a GatewayError');
}

describe('encodeConverseRequest: golden Converse bodies', () => {
  for (const [name, body] of Object.entries(CASES)) {
    it(name, async () => golden(name, await encode(body)));
  }

  it('tool results become one user turn of toolResult blocks, before the text that follows', async () => {
    const body = (await encode(CASES['request-tool-round-trip']!)) as { messages: { content: unknown[] }[] };
    assert.deepEqual(
      body.messages[2]?.content.map((b) => Object.keys(b as object)[0]),
      ['toolResult', 'toolResult', 'text'],
    );
  });

  it('a minimal request has only messages', async () => {
    assert.deepEqual(await encode({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] }), {
      messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
    });
  });

  it('a blank later system message leaves no blank block, and the turns around it merge', async () => {
    const body = await encode({
      model: 'm',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'system', content: '  ' },
        { role: 'assistant', content: 'Still here' },
      ],
    });
    assert.deepEqual(body, {
      messages: [
        { role: 'user', content: [{ text: 'Hi' }] },
        { role: 'assistant', content: [{ text: 'Hello' }, { text: 'Still here' }] },
      ],
    });
  });

  it('a user id Bedrock metadata cannot hold is dropped, not refused', async () => {
    const body = (await encode({
      model: 'm',
      messages: [{ role: 'user', content: 'Hi' }],
      user: 'ü'.repeat(3),
    })) as Record<string, unknown>;
    assert.equal(body.requestMetadata, undefined);
  });
});

describe('encodeConverseRequest: what Bedrock cannot honour is a 400 naming the field', () => {
  const hi = [{ role: 'user', content: 'Hi' }];
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'temperature above 1',
      { temperature: 1.5 },
      'temperature',
      /^temperature: not supported by AWS Bedrock \(Bedrock accepts a temperature from 0 to 1, got 1\.5\)$/,
    ],
    ['n > 1', { n: 2 }, 'n', /^n: not supported by AWS Bedrock/],
    ['logprobs', { logprobs: true }, 'logprobs', /^logprobs: not supported by AWS Bedrock/],
    ['frequency_penalty', { frequency_penalty: 0.5 }, 'frequency_penalty', /not supported by AWS Bedrock/],
    [
      'an OpenAI-only field',
      { reasoning_effort: 'high' },
      'reasoning_effort',
      /not supported by AWS Bedrock/,
    ],
  ];
  for (const [name, extra, param, message] of cases) {
    it(name, async () => {
      const err = await refusal({ model: 'm', messages: hi, ...extra });
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      assert.match(err.message, message);
    });
  }

  it('an image Bedrock cannot take names the part', async () => {
    const err = await refusal({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'x' },
            { type: 'image_url', image_url: { url: BMP } },
          ],
        },
      ],
    });
    assert.equal(err.param, 'messages[0].content[1].image_url');
    assert.equal(
      err.message,
      'messages[0].content[1].image_url: not supported by AWS Bedrock (images must be png, jpeg, gif or webp, got image/bmp)',
    );
  });

  it('a client tool named like the JSON-answer tool clashes with response_format', async () => {
    const err = await refusal({
      model: 'm',
      messages: hi,
      tools: [{ type: 'function', function: { name: 'json_response' } }],
      response_format: { type: 'json_object' },
    });
    assert.equal(err.param, 'response_format');
  });

  it('neutral values many clients send by default are not refused', async () => {
    const request: ChatRequest = parseChatBody({
      model: 'm',
      messages: hi,
      n: 1,
      logprobs: false,
      presence_penalty: 0,
      temperature: 1,
    });
    assert.ok(await encodeConverseRequest(request, TEST_PROVIDER_CONTEXT.loadImage));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { embed, promptTokens, runEngine, type SimRequest, tokenize } from '../../src/sim/engine.ts';
import { sampleFromSchema } from '../../src/sim/schema-sample.ts';

const base = (text: string, extra: Partial<SimRequest> = {}): SimRequest => ({
  model: 'm1',
  label: 'simulated Test',
  messages: [{ role: 'user', text, images: 0 }],
  ...extra,
});
const text = (request: SimRequest) => runEngine(request).choices[0]!.tokens.join('');

describe('engine: text replies', () => {
  it('echoes the last user text with label and model', () => {
    const script = runEngine(base('hi there'));
    assert.equal(script.choices[0]!.tokens.join(''), 'Hello from simulated Test (m1). You said: hi there');
    assert.equal(script.choices[0]!.finishReason, 'stop');
    assert.deepEqual(script.usage, { promptTokens: 2, completionTokens: 9 });
  });

  it('tokens keep their whitespace so the stream concatenates to the text', () => {
    assert.deepEqual(tokenize('a  b\nc '), ['a', '  b', '\nc ']);
    assert.deepEqual(tokenize('   '), ['   ']);
    assert.deepEqual(tokenize(''), []);
  });

  it('mentions images of the last user message', () => {
    const request = base('what is this?');
    request.messages[0]!.images = 2;
    assert.equal(text(request), 'Hello from simulated Test (m1). You said: what is this? Saw 2 image(s).');
  });

  it('counts prompt tokens: words + 85 per image + 10 per tool', () => {
    const request: SimRequest = {
      ...base('one two three'),
      messages: [
        { role: 'system', text: 'be nice', images: 0 },
        { role: 'user', text: 'one two three', images: 1 },
      ],
      tools: [{ name: 'a' }, { name: 'b' }],
    };
    assert.equal(promptTokens(request), 2 + 3 + 85 + 20);
  });

  it('[sim:words=N] replies exactly N words', () => {
    const script = runEngine(base('go [sim:words=5]'));
    assert.equal(script.choices[0]!.tokens.join(''), 'word1 word2 word3 word4 word5');
    assert.equal(script.usage.completionTokens, 5);
  });

  it('[sim:finish=content_filter] marks the prompt as filtered', () => {
    const script = runEngine(base('bad [sim:finish=content_filter]'));
    assert.equal(script.contentFilter, 'prompt');
    assert.equal(script.choices[0]!.finishReason, 'content_filter');
    assert.deepEqual(script.choices[0]!.tokens, []);
  });

  it('answers trailing tool results with their ids', () => {
    const request: SimRequest = {
      ...base(''),
      messages: [
        { role: 'user', text: 'weather? [sim:tool]', images: 0 },
        { role: 'assistant', text: '', images: 0, toolCallIds: ['call_1', 'call_2'] },
        { role: 'tool', text: 'sunny', images: 0, toolCallId: 'call_1' },
        { role: 'tool', text: '21C', images: 0, toolCallId: 'call_2' },
      ],
      tools: [{ name: 'get_weather' }],
    };
    const script = runEngine(request);
    assert.equal(script.choices[0]!.tokens.join(''), 'Tool results: call_1=sunny; call_2=21C');
    assert.equal(script.choices[0]!.toolCalls.length, 0, 'tool_choice auto does not loop after results');
  });
});

describe('engine: limits', () => {
  it('maxTokens truncates and finishes with length', () => {
    const choice = runEngine(base('hi there', { maxTokens: 3 })).choices[0]!;
    assert.equal(choice.tokens.join(''), 'Hello from simulated');
    assert.equal(choice.finishReason, 'length');
  });

  it('maxTokens equal to the reply length still finishes with stop', () => {
    const choice = runEngine(base('[sim:words=4]', { maxTokens: 4 })).choices[0]!;
    assert.equal(choice.finishReason, 'stop');
  });

  it('stop cuts before the first occurrence of any stop string', () => {
    const choice = runEngine(base('hi there', { stop: ['there', 'said'] })).choices[0]!;
    assert.equal(choice.tokens.join(''), 'Hello from simulated Test (m1). You ');
    assert.equal(choice.finishReason, 'stop');
  });

  it('n gives n identical choices and counts completion tokens for all', () => {
    const script = runEngine(base('[sim:words=3]', { n: 3 }));
    assert.equal(script.choices.length, 3);
    assert.deepEqual(script.choices[2], script.choices[0]);
    assert.equal(script.usage.completionTokens, 9);
  });
});

describe('engine: tools and structured output', () => {
  const weather = {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        days: { type: 'integer' },
        metric: { type: 'boolean' },
        unit: { type: 'string', enum: ['c', 'f'] },
        tags: { type: 'array', items: { type: 'string' } },
        where: { type: 'object', properties: { lat: { type: 'number' } } },
      },
      required: ['city'],
    },
  };
  const time = { name: 'get_time' };

  it('generates arguments from the parameters schema', () => {
    assert.deepEqual(sampleFromSchema(weather.parameters), {
      city: 'sample',
      days: 1,
      metric: true,
      unit: 'c',
      tags: ['sample'],
      where: { lat: 1 },
    });
    assert.deepEqual(sampleFromSchema(undefined), {});
    assert.deepEqual(sampleFromSchema({ type: ['null', 'string'] }), 'sample');
    assert.deepEqual(sampleFromSchema({ anyOf: [{ type: 'null' }, { type: 'integer' }] }), 1);
    const withRef = {
      type: 'object',
      properties: { p: { $ref: '#/$defs/P' } },
      $defs: { P: { const: 'x' } },
    };
    assert.deepEqual(sampleFromSchema(withRef), { p: 'x' });
  });

  it('auto calls the tool named in the user text', () => {
    const choice = runEngine(base('please get_weather now', { tools: [weather, time] })).choices[0]!;
    assert.equal(choice.finishReason, 'tool_calls');
    assert.deepEqual(
      choice.toolCalls.map((c) => c.name),
      ['get_weather'],
    );
    const call = choice.toolCalls[0]!;
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(call.fragments.join(''), call.argumentsJson);
    assert.equal(JSON.parse(call.argumentsJson).city, 'sample');
  });

  it('auto without a mention answers text; [sim:tool] calls every tool', () => {
    assert.equal(runEngine(base('hello', { tools: [weather, time] })).choices[0]!.toolCalls.length, 0);
    const choice = runEngine(base('hello [sim:tool]', { tools: [weather, time] })).choices[0]!;
    assert.deepEqual(
      choice.toolCalls.map((c) => c.name),
      ['get_weather', 'get_time'],
    );
    assert.notEqual(choice.toolCalls[0]!.id, choice.toolCalls[1]!.id);
    assert.equal(choice.toolCalls[1]!.argumentsJson, '{}');
  });

  it('required calls all tools, or only the first without parallel calls; named calls that one', () => {
    const tools = [weather, time];
    assert.equal(runEngine(base('x', { tools, toolChoice: 'required' })).choices[0]!.toolCalls.length, 2);
    const single = runEngine(base('x', { tools, toolChoice: 'required', parallelToolCalls: false }));
    assert.deepEqual(
      single.choices[0]!.toolCalls.map((c) => c.name),
      ['get_weather'],
    );
    const named = runEngine(base('get_weather', { tools, toolChoice: { name: 'get_time' } }));
    assert.deepEqual(
      named.choices[0]!.toolCalls.map((c) => c.name),
      ['get_time'],
    );
    assert.equal(
      runEngine(base('get_weather [sim:tool]', { tools, toolChoice: 'none' })).choices[0]!.toolCalls.length,
      0,
    );
  });

  it('ids are deterministic', () => {
    const a = runEngine(base('[sim:tool]', { tools: [weather] })).choices[0]!.toolCalls[0]!.id;
    const b = runEngine(base('[sim:tool]', { tools: [weather] })).choices[0]!.toolCalls[0]!.id;
    assert.equal(a, b);
  });

  it('maxTokens cuts tool arguments and finishes with length', () => {
    const choice = runEngine(base('[sim:tool]', { tools: [weather], maxTokens: 2 })).choices[0]!;
    assert.equal(choice.finishReason, 'length');
    assert.equal(choice.toolCalls[0]!.fragments.length, 2);
    assert.throws(() => JSON.parse(choice.toolCalls[0]!.argumentsJson));
  });

  it('json_object wraps the default text; json_schema follows the schema', () => {
    const obj = JSON.parse(text(base('hi', { responseFormat: { type: 'json_object' } })));
    assert.deepEqual(obj, { reply: 'Hello from simulated Test (m1). You said: hi' });
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } } };
    const doc = JSON.parse(text(base('hi', { responseFormat: { type: 'json_schema', schema } })));
    assert.deepEqual(doc, { name: 'sample', age: 1 });
  });
});

describe('engine: embeddings', () => {
  it('is deterministic, unit length and float32-exact', () => {
    const v = embed('abc', 16);
    assert.equal(v.length, 16);
    assert.deepEqual(embed('abc', 16), v);
    assert.notDeepEqual(embed('abd', 16), v);
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5);
    for (const x of v) assert.equal(Math.fround(x), x);
  });
});

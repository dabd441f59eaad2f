/**
 * The OpenAI-family stream decoder's text-chunk fast path (a template learned from the first plain
 * text chunk, matched without JSON.parse) must be invisible: for any stream, the events and the
 * failure are exactly those of the full path (every chunk parsed), and so is the SSE the gateway
 * writes from them. Generated streams cover the family's dialects and tricky escapes; hand-made
 * chunks cover what the fast path must never take.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent } from '../../src/core/chat.ts';
import { ChatChunkEncoder } from '../../src/egress/openai/chat-stream.ts';
import { createChatChunkDecoder, createChatStreamDecoder } from '../../src/providers/openai/decode.ts';
import {
  chunkings,
  type DecodeOutcome,
  fixtureBytes,
  randomSplits,
  runDecoder,
  seededRandom,
} from './helpers.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const META = { id: 'chatcmpl-gw', model: 'client-model', created: 1766100000 };

/** Runs `fn` counting JSON.parse calls on whole chunks (text starting with `{`). */
function countChunkParses<T>(fn: () => T): { result: T; parses: number } {
  const realParse = JSON.parse;
  let parses = 0;
  JSON.parse = (text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
    if (typeof text === 'string' && text.trimStart().startsWith('{')) parses++;
    return realParse(text, reviver);
  };
  try {
    return { result: fn(), parses };
  } finally {
    JSON.parse = realParse;
  }
}

interface BothOutcomes {
  fast: DecodeOutcome;
  full: DecodeOutcome;
  fastParses: number;
  fullParses: number;
}

/** Decodes the same reads with the fast path on and off; asserts they agree, SSE output included. */
function decodeBoth(chunks: Uint8Array[], label: string): BothOutcomes {
  const fast = countChunkParses(() => runDecoder(createChatStreamDecoder(), chunks));
  const full = countChunkParses(() => runDecoder(createChatChunkDecoder({ textFastPath: false }), chunks));
  assert.deepEqual(fast.result.events, full.result.events, `${label}: events differ`);
  assert.deepEqual(fast.result.failure, full.result.failure, `${label}: failures differ`);
  assert.equal(encode(fast.result.events), encode(full.result.events), `${label}: SSE output differs`);
  return { fast: fast.result, full: full.result, fastParses: fast.parses, fullParses: full.parses };
}

function encode(events: ChatEvent[]): string {
  const encoder = new ChatChunkEncoder(META, true);
  return encoder.encode(events) + encoder.end();
}

const sse = (...datas: string[]) => utf8(datas.map((d) => `data: ${d}\n\n`).join(''));

// An OpenAI stream as the API sends it: the role chunk, then text chunks of one shape.
const HEAD =
  '{"id":"chatcmpl-Cf1","object":"chat.completion.chunk","created":1766102400,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[';
const TAIL = '"usage":null,"obfuscation":"Zq"}';
const ROLE = `${HEAD}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],${TAIL}`;
/** A text chunk whose content is the JSON string literal `literal`. */
const text = (literal: string, obfuscation = 'Zq') =>
  `${HEAD}{"index":0,"delta":{"content":${literal}},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"${obfuscation}"}`;
/** Role chunk and two text chunks: the second one is matched against the template. */
const LEARNED = [ROLE, text('"Hello"'), text('" there"', 'abcdef')];

describe('text-chunk fast path: the golden fixtures', () => {
  for (const fixture of ['openai-text.sse', 'azure-content-filter.sse']) {
    it(`${fixture}: most chunks skip JSON.parse, every chunking gives the full path's events`, () => {
      const bytes = fixtureBytes(fixture);
      for (const { name, chunks } of chunkings(bytes)) {
        const { fastParses, fullParses } = decodeBoth(chunks, `${fixture} (${name})`);
        // Parsed in full: the role chunk (or prelude), the first text chunk (learned), the finish
        // and usage chunks; matched: every later text chunk.
        assert.ok(fastParses < fullParses, `${fixture} (${name}): ${fastParses} vs ${fullParses} parses`);
      }
    });
  }

  it('openai-text.sse: 4 of 8 chunks parsed with the fast path (the 4 later text chunks matched)', () => {
    const { fastParses, fullParses } = decodeBoth([fixtureBytes('openai-text.sse')], 'openai-text');
    assert.equal(fullParses, 8);
    assert.equal(fastParses, 4);
  });
});

describe('text-chunk fast path: escapes in the content mean what JSON.parse says', () => {
  const literals = [
    '"caf\\u00e9"',
    '"caf\\u00E9"',
    '"a\\/b"',
    '"\\ud83c\\udf0d globe"',
    '"lone \\ud800 high"',
    '"lone \\udfff low"',
    '"\\u2028\\u2029"',
    '"back\\\\slash"',
    '"\\"quoted\\""',
    '"\\b\\f\\n\\r\\t"',
    '"nul \\u0000"',
    '"raw é 中 🌍"',
    '"\\"},\\"finish_reason\\":\\"stop\\"}]}"',
    '"ends with a backslash \\\\"',
  ];
  for (const literal of literals) {
    it(`${literal} decodes as JSON.parse would, without parsing the chunk`, () => {
      const chunks = [sse(...LEARNED, text(literal), '[DONE]')];
      const { fast, fastParses, fullParses } = decodeBoth(chunks, literal);
      assert.equal(fullParses - fastParses, 2, 'both later text chunks were matched');
      const last = fast.events.at(-1);
      assert.deepEqual(last, { type: 'text', choice: 0, text: JSON.parse(literal) as string });
    });
  }
});

describe('text-chunk fast path: what it must never take', () => {
  const error = '{"error":{"message":"The server had an error","type":"server_error","code":null}}';
  /** Chunks sent after a learned template, with what the full path makes of them. */
  const cases: { name: string; data: string[]; sseText?: string; expect: (o: DecodeOutcome) => void }[] = [
    {
      name: 'a finish reason',
      data: [text('"x"').replace('"finish_reason":null', '"finish_reason":"length"')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'finish', choice: 0, reason: 'length' }),
    },
    {
      name: 'usage in place of null',
      data: [text('"x"').replace('"usage":null', '"usage":{"prompt_tokens":3,"completion_tokens":2}')],
      expect: (o) =>
        assert.deepEqual(o.events.at(-1), {
          type: 'usage',
          usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
        }),
    },
    {
      name: 'an in-band error',
      data: [error],
      expect: (o) => assert.equal(o.failure?.kind, 'server'),
    },
    {
      name: 'an error key added to a text chunk',
      data: [text('"x"').replace('"usage":null', `"usage":null,"error":${error.slice(9, -1)}`)],
      expect: (o) => assert.ok(o.failure, 'the stream fails'),
    },
    {
      name: 'a text chunk sent as event: error',
      data: [],
      sseText: `event: error\ndata: ${text('"x"')}\n\n`,
      expect: (o) => assert.ok(o.failure, 'the stream fails'),
    },
    {
      name: 'a second choice',
      data: [
        text('"x"').replace(
          '"finish_reason":null}]',
          '"finish_reason":null},{"index":1,"delta":{"content":"y"}}]',
        ),
      ],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'text', choice: 1, text: 'y' }),
    },
    {
      name: 'another choice index',
      data: [text('"y"').replace('"index":0', '"index":1')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'text', choice: 1, text: 'y' }),
    },
    {
      name: 'logprobs',
      data: [text('"x"').replace('"logprobs":null', '"logprobs":{"content":[{"token":"x","logprob":-0.1}]}')],
      expect: (o) =>
        assert.deepEqual(o.events.at(-1), {
          type: 'text',
          choice: 0,
          text: 'x',
          logprobs: [{ token: 'x', logprob: -0.1 }],
        }),
    },
    {
      name: 'a refusal beside the content',
      data: [text('"x"').replace('{"content":"x"}', '{"content":"x","refusal":"no"}')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'refusal', choice: 0, text: 'no' }),
    },
    {
      name: 'a tool call',
      data: [
        text('"x"').replace(
          '{"content":"x"}',
          '{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}',
        ),
      ],
      expect: (o) =>
        assert.deepEqual(o.events.slice(-2), [
          { type: 'tool_call_start', choice: 0, index: 0, id: 'call_1', name: 'f' },
          { type: 'tool_call_delta', choice: 0, index: 0, arguments: '{}' },
        ]),
    },
    {
      name: 'a duplicated content key (JSON.parse keeps the last)',
      data: [text('"x"').replace('{"content":"x"}', '{"content":"x","content":"last"}')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'text', choice: 0, text: 'last' }),
    },
    {
      name: 'empty content',
      data: [text('""')],
      expect: (o) => assert.equal(o.events.length, 3),
    },
    {
      name: 'a raw tab in the content (not JSON)',
      data: [text('"a\tb"')],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'an invalid escape in the content',
      data: [text('"a\\xb"')],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'a truncated \\u escape in the content',
      data: [text('"a\\u12"')],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'a raw control character in a learned value',
      data: [text('"x"', 'a\u0001b')],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'an escaped quote in a learned value',
      data: [text('"x"', 'a\\"b')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'text', choice: 0, text: 'x' }),
    },
    {
      name: 'a number in place of a learned string',
      data: [text('"x"').replace('"obfuscation":"Zq"', '"obfuscation":7')],
      expect: (o) => assert.deepEqual(o.events.at(-1), { type: 'text', choice: 0, text: 'x' }),
    },
    {
      name: 'trailing text after the object',
      data: [`${text('"x"')}x`],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'a cut chunk',
      data: [text('"x"').slice(0, -3)],
      expect: (o) => assert.equal(o.failure?.kind, 'protocol'),
    },
    {
      name: 'a key spelt with an escape',
      data: [text('"x"').replace('"usage":null', '"us\\u0061ge":{"prompt_tokens":1,"completion_tokens":1}')],
      expect: (o) => assert.equal(o.events.at(-1)?.type, 'usage'),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: read exactly as the full path reads it`, () => {
      const body = `${LEARNED.map((d) => `data: ${d}\n\n`).join('')}${c.data.map((d) => `data: ${d}\n\n`).join('')}${c.sseText ?? ''}data: [DONE]\n\n`;
      const bytes = utf8(body);
      for (const { name, chunks } of chunkings(bytes)) {
        const { fast } = decodeBoth(chunks, `${c.name} (${name})`);
        c.expect(fast);
      }
    });
  }

  it("Azure's prompt-filter prelude and filter annotations are read as today", () => {
    const filters =
      '{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"}}';
    const tail =
      '"created":1766102460,"id":"chatcmpl-Bz","model":"gpt-4o","object":"chat.completion.chunk","usage":null}';
    const textChunk = (content: string, severity = 'safe') =>
      `{"choices":[{"content_filter_results":${filters.replaceAll('safe', severity)},"delta":{"content":${JSON.stringify(content)}},"finish_reason":null,"index":0,"logprobs":null}],${tail}`;
    const body = sse(
      '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}',
      `{"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],${tail}`,
      textChunk('The'),
      textChunk(' capital', 'low'),
      // An asynchronous-filter annotation: no delta at all.
      `{"choices":[{"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":12},"content_filter_results":${filters},"finish_reason":null,"index":0}],${tail}`,
      textChunk(' is'),
      `{"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"content_filter","index":0,"logprobs":null}],${tail}`,
      '[DONE]',
    );
    const { fast, fastParses, fullParses } = decodeBoth([body], 'azure');
    assert.equal(fullParses - fastParses, 2, "' capital' and ' is' were matched");
    assert.deepEqual(
      fast.events.filter((e) => e.type !== 'start'),
      [
        { type: 'text', choice: 0, text: 'The' },
        { type: 'text', choice: 0, text: ' capital' },
        { type: 'text', choice: 0, text: ' is' },
        { type: 'finish', choice: 0, reason: 'content_filter' },
      ],
    );
  });

  it('a learned chunk with an empty refusal string: a later refusal is still read', () => {
    const withRefusal = (content: string, refusal: string) =>
      text(JSON.stringify(content)).replace(
        `{"content":${JSON.stringify(content)}}`,
        `{"content":${JSON.stringify(content)},"refusal":${JSON.stringify(refusal)}}`,
      );
    const body = sse(
      ROLE,
      withRefusal('a', ''),
      withRefusal('b', ''),
      withRefusal('c', 'I cannot'),
      '[DONE]',
    );
    const { fast } = decodeBoth([body], 'refusal');
    assert.deepEqual(fast.events.at(-1), { type: 'refusal', choice: 0, text: 'I cannot' });
  });

  it('text chunks before the stream started (empty id) are not learned: the first id still starts it', () => {
    const noId = (content: string, id: string) =>
      `{"id":"${id}","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${content}"},"logprobs":null,"finish_reason":null}]}`;
    const body = sse(
      noId('a', ''),
      noId('b', ''),
      noId('c', 'chatcmpl-late'),
      noId('d', 'chatcmpl-late'),
      '[DONE]',
    );
    const { fast } = decodeBoth([body], 'late id');
    // As the full path has always done: text before any id goes out without a start.
    assert.deepEqual(
      fast.events.map((e) => (e.type === 'text' ? e.text : e.type === 'start' ? `start ${e.id}` : e.type)),
      ['a', 'b', 'start chatcmpl-late', 'c', 'd'],
    );
  });

  it('a server that changes `created` now and then is relearned, and stays correct', () => {
    const datas = [ROLE];
    for (let i = 0; i < 30; i++) {
      datas.push(
        text(JSON.stringify(` w${i}`)).replace('1766102400', String(1766102400 + Math.floor(i / 10))),
      );
    }
    const { fast, fastParses, fullParses } = decodeBoth([sse(...datas, '[DONE]')], 'created');
    // Parsed: the role chunk and the first text chunk of each second; the rest matched.
    assert.equal(fullParses, 31);
    assert.equal(fastParses, 4);
    assert.equal(fast.events.filter((e) => e.type === 'text').length, 30);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated streams: the family's dialects, random texts and escapes, random special chunks.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json } | RawJson;

/** A value already written as JSON text (the content literal, in one of several spellings). */
class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

function writeJson(value: Json, spaced: boolean): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => writeJson(v, spaced)).join(spaced ? ', ' : ',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}${spaced ? ': ' : ':'}${writeJson(v, spaced)}`,
    );
    return `{${members.join(spaced ? ', ' : ',')}}`;
  }
  return JSON.stringify(value);
}

const PIECES = [
  'word',
  ' ',
  'é',
  '中文',
  '🌍',
  '"',
  '\\',
  '/',
  '\n',
  '\t',
  '\r',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '\ufeff',
  '\ud800',
  '\udfff',
  '}',
  ']',
  '{"a":1}',
  '","finish_reason":"stop',
  'data: [DONE]',
];

/** A generated stream: its SSE text and the text each choice must end up with. */
interface GeneratedStream {
  body: string;
  texts: Map<number, string>;
  textChunks: number;
}

type Dialect = 'openai' | 'azure' | 'spaced' | 'minimal';
const DIALECTS: Dialect[] = ['openai', 'azure', 'spaced', 'minimal'];

function generateStream(seed: number): GeneratedStream {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number) => random() < p;
  const dialect = pick(DIALECTS);
  const spaced = dialect === 'spaced';
  let created = 1766102400;
  const texts = new Map<number, string>();
  let textChunks = 0;

  const randomText = (): string => {
    let out = '';
    const n = 1 + Math.floor(random() * 4);
    for (let i = 0; i < n; i++)
      out += chance(0.6) ? pick(['Hello', ' world', ' the', ',', '.']) : pick(PIECES);
    return out;
  };
  /** The content literal in one of the spellings servers use. */
  const literal = (value: string): RawJson => {
    const style = pick(['standard', 'standard', 'ascii', 'ascii-upper', 'slashes']);
    if (style === 'standard') return new RawJson(JSON.stringify(value));
    if (style === 'slashes') return new RawJson(JSON.stringify(value).replaceAll('/', '\\/'));
    let out = '"';
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        const hex = c.toString(16).padStart(4, '0');
        out += `\\u${style === 'ascii-upper' ? hex.toUpperCase() : hex}`;
      } else out += value[i];
    }
    return new RawJson(`${out}"`);
  };
  // OpenAI's padding, now and then with an escape (a learned value never has one).
  const padding = (): Json =>
    chance(0.03) ? new RawJson('"qZ\\"x"') : 'qZ3xK9mVb2LwR7tYp4Nc'.slice(0, 2 + Math.floor(random() * 12));
  const severity = () => (chance(0.8) ? 'safe' : 'low');

  const chunk = (choices: Json[], extra: Record<string, Json> = {}): string => {
    const base: Record<string, Json> = { id: 'chatcmpl-gen', created, model: 'upstream-model' };
    let body: Record<string, Json>;
    if (dialect === 'azure') {
      body = {
        choices,
        ...base,
        obfuscation: padding(),
        object: 'chat.completion.chunk',
        system_fingerprint: 'fp_a',
        usage: null,
      };
    } else if (dialect === 'openai') {
      body = {
        id: 'chatcmpl-gen',
        object: 'chat.completion.chunk',
        created,
        model: 'upstream-model',
        service_tier: 'default',
        system_fingerprint: 'fp_o',
        choices,
        usage: null,
        obfuscation: padding(),
      };
    } else body = { ...base, object: 'chat.completion.chunk', choices };
    return writeJson({ ...body, ...extra }, spaced);
  };
  const choice = (
    index: number,
    delta: Record<string, Json>,
    finish: string | null = null,
    more: Record<string, Json> = {},
  ) => {
    if (dialect === 'azure') {
      return {
        content_filter_results: { hate: { filtered: false, severity: severity() } },
        delta,
        finish_reason: finish,
        index,
        logprobs: null,
        ...more,
      };
    }
    if (dialect === 'minimal')
      return { index, delta, logprobs: null, finish_reason: finish, stop_reason: null, ...more };
    return { index, delta, logprobs: null, finish_reason: finish, ...more };
  };
  const addText = (index: number, value: string) => {
    texts.set(index, (texts.get(index) ?? '') + value);
    textChunks++;
  };

  const datas: string[] = [];
  if (dialect === 'azure' && chance(0.7)) {
    datas.push('{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}');
  }
  if (chance(0.85)) {
    const roleDelta: Record<string, Json> = spaced
      ? { role: 'assistant' }
      : { role: 'assistant', content: '', refusal: null };
    datas.push(chunk([choice(0, roleDelta)]));
  }
  const steps = 3 + Math.floor(random() * 40);
  for (let s = 0; s < steps; s++) {
    const value = randomText();
    const roll = random();
    if (roll < 0.72) {
      const delta: Record<string, Json> = spaced
        ? { role: 'assistant', content: literal(value) }
        : { content: literal(value) };
      datas.push(chunk([choice(0, delta)]));
      addText(0, value);
    } else if (roll < 0.75) {
      datas.push(chunk([choice(0, { content: '' })]));
    } else if (roll < 0.78) {
      datas.push(chunk([choice(0, { refusal: value })]));
    } else if (roll < 0.81) {
      datas.push(
        chunk([
          choice(0, { content: literal(value) }, null, {
            logprobs: { content: [{ token: 't', logprob: -1 }] },
          }),
        ]),
      );
      addText(0, value);
    } else if (roll < 0.85) {
      datas.push(chunk([choice(1, { content: literal(value) })]));
      addText(1, value);
    } else if (roll < 0.87) {
      datas.push(chunk([choice(0, { content: literal(value) }), choice(1, { content: literal(value) })]));
      addText(0, value);
      addText(1, value);
    } else if (roll < 0.9) {
      datas.push(
        chunk([
          choice(0, {
            tool_calls: [
              { index: 0, id: `call_${s}`, type: 'function', function: { name: 'f', arguments: '{}' } },
            ],
          }),
        ]),
      );
    } else if (roll < 0.92) {
      datas.push(chunk([choice(0, { content: literal(value), reasoning_content: null })]));
      addText(0, value);
    } else if (roll < 0.94) {
      created++;
      datas.push(chunk([choice(0, { content: literal(value) })]));
      addText(0, value);
    } else if (roll < 0.96 && dialect === 'azure') {
      datas.push(
        `{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":null,"index":0}],"created":${created},"id":"chatcmpl-gen","model":"upstream-model","object":"chat.completion.chunk","usage":null}`,
      );
    } else {
      datas.push(
        chunk([choice(0, { content: literal(value) })], {
          usage: { prompt_tokens: 4, completion_tokens: s, total_tokens: 4 + s },
        }),
      );
      addText(0, value);
    }
  }
  if (chance(0.9)) datas.push(chunk([choice(0, {}, pick(['stop', 'length', 'content_filter']))]));
  if (chance(0.5))
    datas.push(chunk([], { usage: { prompt_tokens: 4, completion_tokens: 9, total_tokens: 13 } }));
  let body = datas.map((d) => `data: ${d}\n\n`).join('');
  const end = random();
  if (end < 0.84) body += 'data: [DONE]\n\n';
  else if (end < 0.88) body += 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n';
  else if (end < 0.91) body += 'event: error\ndata: {"message":"overloaded"}\n\n';
  else if (end < 0.95) body += `data: ${chunk([choice(0, { content: literal('cut') })]).slice(0, -5)}\n\n`;
  // else: cut without [DONE]
  return { body, texts, textChunks };
}

describe('text-chunk fast path: generated streams', () => {
  it('600 streams in four dialects decode exactly as the full path, whatever the reads', () => {
    let fastParses = 0;
    let fullParses = 0;
    let textChunks = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const stream = generateStream(seed);
      const bytes = utf8(stream.body);
      const reads = seed % 3 === 0 ? [bytes] : randomSplits(bytes, seed, seed % 2 === 0 ? 64 : 7);
      const both = decodeBoth(reads, `seed ${seed}`);
      fastParses += both.fastParses;
      fullParses += both.fullParses;
      textChunks += stream.textChunks;
      const texts = new Map<number, string>();
      for (const e of both.fast.events)
        if (e.type === 'text') texts.set(e.choice, (texts.get(e.choice) ?? '') + e.text);
      assert.deepEqual(texts, stream.texts, `seed ${seed}: the texts`);
    }
    // Not vacuous: most text chunks took the fast path.
    const matched = fullParses - fastParses;
    assert.ok(matched > textChunks * 0.5, `matched ${matched} of ${textChunks} text chunks`);
  });
});

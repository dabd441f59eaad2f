/** Shared helpers for the unit tests: fixtures, chunkings, SSE frame parsing, error capture. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageFetchSchema } from '../../src/config/schema.ts';
import type { ChatEvent } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { createImageLoader } from '../../src/providers/shared/images.ts';
import type { ChatCallContext, ProviderContext } from '../../src/providers/types.ts';
import { type ChatStreamDecoder, UpstreamError, type UpstreamFailure } from '../../src/providers/types.ts';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** The raw bytes of a fixture file, exactly as stored. */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(FIXTURES, name)));
}

export function fixtureJson(name: string): unknown {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
}

/** A small deterministic PRNG (mulberry32), so "random" splits are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits bytes at random points (1..maxPiece bytes a piece), reproducibly for a seed. */
export function randomSplits(bytes: Uint8Array, seed: number, maxPiece = 40): Uint8Array[] {
  const next = seededRandom(seed);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = 1 + Math.floor(next() * maxPiece);
    out.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
    at += size;
  }
  return out;
}

/** Named ways of cutting one body into network reads. */
export function chunkings(bytes: Uint8Array): { name: string; chunks: Uint8Array[] }[] {
  const byteByByte: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) byteByByte.push(bytes.subarray(i, i + 1));
  // One read per line, newline kept at the end of each piece.
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      lines.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return [
    { name: 'whole', chunks: [bytes] },
    { name: 'byte-by-byte', chunks: byteByByte },
    { name: 'line-by-line', chunks: lines },
    { name: 'random seed 1', chunks: randomSplits(bytes, 1) },
    { name: 'random seed 42', chunks: randomSplits(bytes, 42, 7) },
    { name: 'random seed 20260822', chunks: randomSplits(bytes, 20260822, 200) },
  ];
}

export interface DecodeOutcome {
  /** Every event the decoder handed out before it finished or threw. */
  events: ChatEvent[];
  /** The failure it threw (from push or end), if any. */
  failure?: UpstreamFailure;
}

/** Feeds the chunks to a fresh decoder, then ends it; collects events and the failure thrown. */
export function runDecoder(decoder: ChatStreamDecoder, chunks: readonly Uint8Array[]): DecodeOutcome {
  const events: ChatEvent[] = [];
  try {
    for (const chunk of chunks) events.push(...decoder.push(chunk));
    events.push(...decoder.end());
  } catch (err) {
    if (err instanceof UpstreamError) return { events, failure: err.failure };
    throw err;
  }
  return { events };
}

export interface SseFrame {
  event?: string;
  data: string;
}

/**
 * Parses SSE text strictly as the gateway writes it: frames separated by one blank line, each
 * frame `event: x` (optional) then exactly one `data: ...` line. Anything else fails the test.
 */
export function parseSseFrames(text: string): SseFrame[] {
  assert.ok(text.endsWith('\n\n'), `SSE text must end with a blank line: ${JSON.stringify(text.slice(-40))}`);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((raw) => {
      const lines = raw.split('\n');
      const frame: SseFrame = { data: '' };
      const first = lines[0] ?? '';
      if (first.startsWith('event: ')) {
        frame.event = first.slice('event: '.length);
        lines.shift();
      }
      assert.equal(lines.length, 1, `one data line per frame: ${JSON.stringify(raw)}`);
      const line = lines[0] ?? '';
      assert.ok(line.startsWith('data: '), `data line expected: ${JSON.stringify(line)}`);
      frame.data = line.slice('data: '.length);
      return frame;
    });
}

/** The JSON chunks of an OpenAI SSE body, checking the last frame is `data: [DONE]`. */
export function chunksBeforeDone(text: string): Record<string, unknown>[] {
  const frames = parseSseFrames(text);
  const last = frames.pop();
  assert.deepEqual(last, { data: '[DONE]' }, 'the last frame is data: [DONE]');
  for (const f of frames) assert.equal(f.event, undefined, 'chat chunks carry no event: field');
  return frames.map((f) => JSON.parse(f.data) as Record<string, unknown>);
}

/** Runs fn, which must throw a GatewayError, and returns it. */
export function gatewayErrorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  assert.fail('expected a GatewayError');
}

/** Asserts a 400 invalid_request whose param and message name the field and the rule. */
export function assertInvalid(
  fn: () => unknown,
  expected: { param: string | null; message: string | RegExp },
): GatewayError {
  const err = gatewayErrorOf(fn);
  assert.equal(err.status, 400, `status of: ${err.message}`);
  assert.equal(err.code, 'invalid_request');
  assert.equal(err.clientType, 'invalid_request_error');
  assert.equal(err.param, expected.param, `param of: ${err.message}`);
  if (typeof expected.message === 'string') assert.equal(err.message, expected.message);
  else assert.match(err.message, expected.message);
  return err;
}

/** The per-request context of `chatCall` in tests: images from data URLs only. */
export const TEST_CALL: ChatCallContext = {
  loadImage: createImageLoader(
    imageFetchSchema.parse({ enabled: false, maxBytes: 1024 * 1024, timeoutMs: 1000 }),
  ),
};

/** A provider context for adapters under test: images from data URLs only, no environment. */
export const TEST_PROVIDER_CONTEXT: ProviderContext = {
  loadImage: createImageLoader(
    imageFetchSchema.parse({ enabled: false, maxBytes: 1024 * 1024, timeoutMs: 1000 }),
  ),
  env: {},
};

/**
 * The OpenAI family's text-chunk fast path: decode the stream's most frequent chunk without
 * JSON.parse, by matching it against a template learned from the first such chunk.
 */
import { asNumber, asObject, type JsonObject, tryParseJson } from '../../core/json.ts';

/**
 * The fast path for the family's most frequent chunk, a text delta. Such chunks repeat one shape
 * for a whole stream: the same keys in the same order, the same id, model and numbers, and only
 * value strings changing (the content, OpenAI's `obfuscation` padding, Azure's filter severities).
 * So the first one is parsed in full, and if it is a plain text chunk (see plainTextChoice) its
 * text becomes a template: the constant text between value strings, the learned value of each, and
 * the slot where the content goes. A later chunk that matches the template outside its value
 * strings has, by construction, the same keys, nesting, numbers and literals as the learned one:
 * JSON.parse would give the same object with other strings at the holes, and no hole is at a field
 * the decoder reads (plainTextChoice makes sure of that), so its only event is the text. Anything
 * else (a usage, finish, error, tool or logprobs chunk, a second choice, a key added, an escape in a
 * hole) misses the template and takes the full path.
 */
export interface TextChunkTemplate {
  /** The text around the value strings: constants[i] ends with gap i's opening quote. */
  readonly constants: readonly string[];
  /** Per gap, its learned value and the constant after it, tried first; unused for the slot. */
  readonly probes: readonly string[];
  /** The gap holding delta.content. */
  readonly slot: number;
  /** Everything before the content's first character when every earlier value is as learned. */
  readonly prefix: string;
  readonly choice: number;
}

/** Learning again after misses is cheap, but a stream whose chunks never repeat stops trying. */
export const MAX_BARREN_LEARNINGS = 3;

/**
 * The one choice of a chunk whose only event is a text delta, or undefined. Every field the
 * decoder reads besides delta.content must be absent or null, so no learned string sits there.
 */
export function plainTextChoice(chunk: JsonObject): number | undefined {
  if (chunk.error !== undefined || chunk.usage != null) return undefined;
  const choices = chunk.choices;
  if (!Array.isArray(choices) || choices.length !== 1) return undefined;
  const choice = asObject(choices[0]);
  if (!choice || choice.finish_reason != null || choice.logprobs != null) return undefined;
  const delta = asObject(choice.delta);
  if (!delta || delta.refusal != null || delta.tool_calls != null) return undefined;
  if (typeof delta.content !== 'string' || delta.content === '') return undefined;
  return asNumber(choice.index) ?? 0;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The closing quote of the JSON string whose content starts at `from` (escapes skipped), or -1. */
function stringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/**
 * A template from the text of a chunk JSON.parse accepted and plainTextChoice approved, or
 * undefined when a key or a learned value has an escape (rare; matching then stays simple).
 */
export function learnTextChunk(data: string, choice: number): TextChunkTemplate | undefined {
  const constants: string[] = [];
  const learned: string[] = [];
  let slot = -1;
  let constantStart = 0;
  /** Per open container, the key (objects) or element index (arrays) being read. */
  const path: (string | number)[] = [];
  /** Per open container: an object expecting a key next. */
  const expectsKey: boolean[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    const top = path.length - 1;
    if (c === QUOTE) {
      const end = stringEnd(data, i + 1);
      if (end < 0) return undefined;
      const inner = data.slice(i + 1, end);
      if (top >= 0 && expectsKey[top]) {
        if (inner.includes('\\')) return undefined;
        path[top] = inner;
        expectsKey[top] = false;
      } else {
        const isContent =
          path.length === 4 &&
          path[0] === 'choices' &&
          path[1] === 0 &&
          path[2] === 'delta' &&
          path[3] === 'content';
        if (isContent) {
          // A duplicated key: JSON.parse keeps the last one, so do not guess which.
          if (slot >= 0) return undefined;
          slot = learned.length;
        } else if (inner.includes('\\')) return undefined;
        // Copies: the template lives as long as the stream, the read it was sliced from does not.
        constants.push(detached(data.slice(constantStart, i + 1)));
        learned.push(detached(inner));
        constantStart = end;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      path.push('');
      expectsKey.push(true);
    } else if (c === 0x5b /* [ */) {
      path.push(0);
      expectsKey.push(false);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      path.pop();
      expectsKey.pop();
    } else if (c === 0x2c /* , */ && top >= 0) {
      const at = path[top];
      if (typeof at === 'number') path[top] = at + 1;
      else expectsKey[top] = true;
    }
  }
  constants.push(detached(data.slice(constantStart)));
  if (slot < 0) return undefined;
  const probes = learned.map((value, gap) => value + constants[gap + 1]);
  let prefix = constants[0] ?? '';
  for (let gap = 0; gap < slot; gap++) prefix += probes[gap];
  return { constants, probes, slot, prefix, choice };
}

/**
 * The text of a chunk that matches the template, or undefined (the chunk then takes the full
 * path). Holes accept any string without escapes or control characters; the content accepts any
 * valid JSON string, decoded by JSON.parse when it has escapes so it means exactly what it would
 * in the whole chunk.
 */
export function matchTextChunk(template: TextChunkTemplate, data: string): string | undefined {
  const { constants, probes, slot } = template;
  let pos: number;
  let gap: number;
  if (textAt(data, 0, template.prefix)) {
    pos = template.prefix.length;
    gap = slot;
  } else {
    const first = constants[0] ?? '';
    if (!textAt(data, 0, first)) return undefined;
    pos = first.length;
    gap = 0;
  }
  let text: string | undefined;
  for (; gap < probes.length; gap++) {
    const next = constants[gap + 1] ?? '';
    let end: number;
    if (gap === slot) {
      end = stringEnd(data, pos);
      if (end <= pos) return undefined;
      text = contentOf(data, pos, end);
      if (text === undefined) return undefined;
    } else {
      const probe = probes[gap] ?? '';
      if (textAt(data, pos, probe)) {
        pos += probe.length;
        continue;
      }
      end = data.indexOf('"', pos);
      if (end < 0 || !isPlainString(data, pos, end)) return undefined;
    }
    if (!textAt(data, end, next)) return undefined;
    pos = end + next.length;
  }
  return pos === data.length ? text : undefined;
}

/**
 * text.startsWith(part, at), at memcmp speed: V8's startsWith compares character by character
 * (about 4 ns each, 1 µs for a 230-character prefix), a slice compared with === does not.
 */
function textAt(text: string, at: number, part: string): boolean {
  return text.slice(at, at + part.length) === part;
}

/** True when text[from, to) has no escape and no control character (which JSON forbids raw). */
function isPlainString(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH || c < 0x20) return false;
  }
  return true;
}

/**
 * V8 makes a slice of this many characters or more a view into its parent string (here a whole
 * network read, up to 64 KiB) instead of a copy: anything kept longer than the read must be copied.
 */
const SHARED_SLICE_LENGTH = 13;

/** A copy of `text` that keeps no larger string alive (see SHARED_SLICE_LENGTH). */
function detached(text: string): string {
  return text.length < SHARED_SLICE_LENGTH ? text : (JSON.parse(JSON.stringify(text)) as string);
}

/**
 * The content string text[from, to) decoded, or undefined when it is not valid JSON. Short plain
 * strings are sliced (a copy); longer ones go through JSON.parse like escaped ones, so the text,
 * which a collected response body keeps, does not hold the network read alive.
 */
function contentOf(text: string, from: number, to: number): string | undefined {
  if (to - from < SHARED_SLICE_LENGTH && isPlainString(text, from, to)) return text.slice(from, to);
  const decoded = tryParseJson(text.slice(from - 1, to + 1));
  return typeof decoded === 'string' ? decoded : undefined;
}

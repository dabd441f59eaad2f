import { createHash } from 'node:crypto';

/**
 * OpenAI tool-call ids for Gemini function calls, and what they carry back.
 *
 * Gemini responses usually have no call id (pitfall 11), and Gemini 3 wants each replayed
 * `functionCall` part to carry the `thoughtSignature` it came with (pitfall 12). Chat Completions has
 * no field for either, so both travel inside the id the client sees and sends back:
 *
 *   call_<24 alphanumerics>                       nothing to carry
 *   call_<24 alphanumerics>_g<base64url(JSON)>    JSON `{"s": thoughtSignature?, "i": geminiCallId?}`
 *
 * The 24 characters are a hash of the response id, candidate index, call position, name and
 * arguments: stable for the same response (streamed or not) and distinct between calls. Only
 * `[A-Za-z0-9_-]` is used, so the ids also pass Bedrock's and Anthropic's id rules when a
 * conversation moves to another cloud. An id the client invented carries nothing and is fine.
 */

export interface CarriedCallData {
  /** Gemini 3 thought signature (base64) of the functionCall part. */
  signature?: string;
  /** The id Gemini gave the call, sent back on the Gemini API (Vertex refuses ids). */
  geminiId?: string;
}

const CARRYING_ID = /^call_[A-Za-z0-9]{24}_g([A-Za-z0-9_-]+)$/;

function hash24(seed: string): string {
  return createHash('sha256')
    .update(seed)
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 24);
}

export interface CallPosition {
  responseId: string;
  candidate: number;
  /** Position of the call among the candidate's calls. */
  call: number;
  name: string;
  argumentsJson: string;
}

export function encodeToolCallId(position: CallPosition, carried: CarriedCallData): string {
  const base = `call_${hash24(
    `${position.responseId}\u0000${position.candidate}\u0000${position.call}\u0000${position.name}\u0000${position.argumentsJson}`,
  )}`;
  const payload: Record<string, string> = {};
  if (carried.signature) payload.s = carried.signature;
  if (carried.geminiId) payload.i = carried.geminiId;
  if (Object.keys(payload).length === 0) return base;
  return `${base}_g${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
}

export function decodeToolCallId(id: string): CarriedCallData {
  const match = CARRYING_ID.exec(id);
  if (!match) return {};
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(match[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return {};
  }
  if (typeof payload !== 'object' || payload === null) return {};
  const { s, i } = payload as Record<string, unknown>;
  const carried: CarriedCallData = {};
  if (typeof s === 'string' && s !== '') carried.signature = s;
  if (typeof i === 'string' && i !== '') carried.geminiId = i;
  return carried;
}

/** What the benchmark sends to each target, and how it checks every answer. */

import { ANSWER_WORDS, GATEWAY_KEY, GATEWAY_MODEL, UPSTREAM_API_KEY, UPSTREAM_MODEL } from './constants.ts';
import type { ScenarioName } from './scenarios.ts';

/** The upstream itself, the bare proxy, or the gateway of one scenario. */
export type TargetName = 'direct' | 'proxy' | ScenarioName;
export type Mode = 'non-streaming' | 'streaming';

export const MODES: Mode[] = ['non-streaming', 'streaming'];

export function isGateway(target: TargetName): target is ScenarioName {
  return target !== 'direct' && target !== 'proxy';
}

/** How a target is named in the report: `direct`, `bare proxy`, `gw plain`, `gw limits-redis`. */
export function label(target: TargetName): string {
  if (target === 'direct') return 'direct';
  if (target === 'proxy') return 'bare proxy';
  return `gw ${target}`;
}

const PROMPT = `Say hello. [sim:words=${ANSWER_WORDS}]`;

export function chatRequest(target: TargetName, stream: boolean) {
  const gateway = isGateway(target);
  return {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: {
      authorization: `Bearer ${gateway ? GATEWAY_KEY : UPSTREAM_API_KEY}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      model: gateway ? GATEWAY_MODEL : UPSTREAM_MODEL,
      messages: [{ role: 'user', content: PROMPT }],
      ...(stream ? { stream: true } : {}),
    }),
  };
}

const LAST_WORD = `word${ANSWER_WORDS}`;
const ONE_TOO_MANY = `word${ANSWER_WORDS + 1}`;

/** A complete, successful answer of exactly the requested length, in either shape. */
export function verifyBody(body: string): boolean {
  if (body.startsWith('data:')) {
    return (
      body.trimEnd().endsWith('data: [DONE]') &&
      !body.includes('event: error') &&
      body.includes(LAST_WORD) &&
      !body.includes(ONE_TOO_MANY)
    );
  }
  return (
    /"finish_reason"\s*:\s*"stop"/.test(body) && body.includes(LAST_WORD) && !body.includes(ONE_TOO_MANY)
  );
}

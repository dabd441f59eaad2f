/**
 * The engine's script rendered as GenerateContentResponse JSON (Gemini API and Vertex AI reference: Response) and as the chunks of
 * `streamGenerateContent` (Gemini API and Vertex AI reference: Streaming (alt=sse)): each chunk holds only new parts, usageMetadata with running
 * counts rides on every chunk, `finishReason` only on a candidate's last chunk, STOP after function
 * calls (there is no tool-call reason), and no `[DONE]`.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { SimChoice, SimScript } from './engine.ts';
import type { GoogleFlavour } from './google-errors.ts';

type Json = Record<string, unknown>;

export interface RenderContext {
  flavour: GoogleFlavour;
  model: string;
}

const FINISH: Record<SimChoice['finishReason'], string> = {
  stop: 'STOP',
  length: 'MAX_TOKENS',
  tool_calls: 'STOP',
  content_filter: 'SAFETY',
};

const CATEGORIES = [
  'HARM_CATEGORY_HATE_SPEECH',
  'HARM_CATEGORY_DANGEROUS_CONTENT',
  'HARM_CATEGORY_HARASSMENT',
  'HARM_CATEGORY_SEXUALLY_EXPLICIT',
];

/** The safety verdict of a `[sim:finish=content_filter]` answer: one category blocked. */
function blockedRatings(flavour: GoogleFlavour): Json[] {
  return CATEGORIES.map((category) => {
    const blocked = category === 'HARM_CATEGORY_SEXUALLY_EXPLICIT';
    return {
      category,
      probability: blocked ? 'HIGH' : 'NEGLIGIBLE',
      ...(flavour === 'vertex'
        ? {
            probabilityScore: blocked ? 0.93 : 0.02,
            severity: blocked ? 'HARM_SEVERITY_HIGH' : 'HARM_SEVERITY_NEGLIGIBLE',
            severityScore: blocked ? 0.88 : 0.01,
          }
        : {}),
      ...(blocked ? { blocked: true } : {}),
    };
  });
}

/** Gemini 3 models sign their first function call of a step (pitfall 12); older ones do not. */
export const signsCalls = (model: string): boolean => /(^|\/)gemini-3/.test(model);

function signature(model: string, name: string): string {
  return createHash('sha256').update(`sim-thought|${model}|${name}`).digest('base64');
}

/** A call's parts with their token cost; arguments cut short by maxOutputTokens are not a call Gemini would return. */
function callParts(choice: SimChoice, model: string): { part: Json; cost: number }[] {
  const parts: { part: Json; cost: number }[] = [];
  for (const call of choice.toolCalls) {
    let args: unknown;
    try {
      args = JSON.parse(call.argumentsJson);
    } catch {
      continue;
    }
    const part: Json = { functionCall: { name: call.name, args } };
    if (parts.length === 0 && signsCalls(model)) part.thoughtSignature = signature(model, call.name);
    parts.push({ part, cost: call.fragments.length });
  }
  return parts;
}

function usageMetadata(script: SimScript, completion: number, ctx: RenderContext): Json {
  const prompt = script.usage.promptTokens;
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: completion,
    totalTokenCount: prompt + completion,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
    ...(ctx.flavour === 'vertex' ? { trafficType: 'ON_DEMAND' } : {}),
  };
}

function envelope(ctx: RenderContext, responseId: string, createTime: string): Json {
  return {
    modelVersion: ctx.model,
    ...(ctx.flavour === 'vertex' ? { createTime } : {}),
    responseId,
  };
}

function candidate(
  index: number,
  parts: Json[],
  finish: SimChoice['finishReason'] | undefined,
  ctx: RenderContext,
): Json {
  const out: Json = {};
  // A blocked answer has no content at all, only the verdict.
  if (parts.length > 0) out.content = { role: 'model', parts };
  if (finish !== undefined) {
    out.finishReason = FINISH[finish];
    if (finish === 'content_filter') out.safetyRatings = blockedRatings(ctx.flavour);
  }
  out.index = index;
  return out;
}

export function newResponseId(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

/** The whole answer as one generateContent response. */
export function renderResponse(script: SimScript, ctx: RenderContext): Json {
  const candidates = script.choices.map((choice, index) => {
    const parts: Json[] = [];
    if (choice.tokens.length > 0) parts.push({ text: choice.tokens.join('') });
    parts.push(...callParts(choice, ctx.model).map((c) => c.part));
    return candidate(index, parts, choice.finishReason, ctx);
  });
  return {
    candidates,
    usageMetadata: usageMetadata(script, script.usage.completionTokens, ctx),
    ...envelope(ctx, newResponseId(), new Date().toISOString()),
  };
}

export interface StreamChunk {
  body: Json;
  /** Token-bearing chunks are paced by tokensPerSecond. */
  paced: boolean;
}

/** The answer as stream chunks: one per text token or call, candidates interleaved; the last of each carries finishReason. */
export function renderChunks(script: SimScript, ctx: RenderContext): StreamChunk[] {
  const steps = script.choices.map((choice, index) => {
    const partsList: { parts: Json[]; cost: number }[] = choice.tokens.map((t) => ({
      parts: [{ text: t }],
      cost: 1,
    }));
    for (const { part, cost } of callParts(choice, ctx.model)) partsList.push({ parts: [part], cost });
    if (partsList.length === 0) partsList.push({ parts: [], cost: 0 });
    return partsList.map((entry, k) => ({
      index,
      ...entry,
      finish: k === partsList.length - 1 ? choice.finishReason : undefined,
    }));
  });
  const ordered: (typeof steps)[number] = [];
  const longest = Math.max(...steps.map((s) => s.length));
  for (let k = 0; k < longest; k++) for (const list of steps) if (list[k]) ordered.push(list[k]!);

  const responseId = newResponseId();
  const createTime = new Date().toISOString();
  let completion = 0;
  return ordered.map((step, k) => {
    // Running counts; the last chunk holds the totals.
    completion = k === ordered.length - 1 ? script.usage.completionTokens : completion + step.cost;
    return {
      body: {
        candidates: [candidate(step.index, step.parts, step.finish, ctx)],
        usageMetadata: usageMetadata(script, completion, ctx),
        ...envelope(ctx, responseId, createTime),
      },
      paced: step.parts.length > 0,
    };
  });
}

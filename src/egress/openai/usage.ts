import type { Usage } from '../../core/chat.ts';

/** Neutral usage → OpenAI's usage object, details included as OpenAI sends them. */
export function encodeUsage(usage: Usage): Record<string, unknown> {
  const prompt: Record<string, number> = { cached_tokens: usage.cachedTokens ?? 0 };
  if (usage.cacheWriteTokens) prompt.cache_write_tokens = usage.cacheWriteTokens;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: prompt,
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

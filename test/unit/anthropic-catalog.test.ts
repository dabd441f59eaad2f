/** The Anthropic model catalog: max output tokens (the max_tokens default) and per-model traits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FALLBACK_TRAITS, modelTraits } from '../../src/providers/anthropic/catalog.ts';

describe('anthropic catalog', () => {
  it('maps model families to their maximum output tokens', () => {
    const max = (id: string) => modelTraits(id).maxOutputTokens;
    assert.equal(max('claude-opus-5-5'), 128_000);
    assert.equal(max('claude-sonnet-5'), 128_000);
    assert.equal(max('claude-opus-4-6'), 128_000);
    assert.equal(max('claude-sonnet-4-6'), 128_000);
    assert.equal(max('claude-sonnet-4-5'), 64_000);
    assert.equal(max('claude-haiku-4-5-20251001'), 64_000);
    assert.equal(max('claude-opus-4-1-20250805'), 32_000);
    assert.equal(max('claude-opus-4-20250514'), 32_000);
    assert.equal(max('claude-sonnet-4-20250514'), 64_000);
    assert.equal(max('claude-3-7-sonnet-latest'), 64_000);
    assert.equal(max('claude-3-5-haiku-20241022'), 8_192);
    assert.equal(max('claude-3-haiku-20240307'), 4_096);
  });

  it('the longest prefix wins: 4-5 is not read as 4, 5-5 not as 5', () => {
    assert.equal(modelTraits('claude-opus-4-5-20251101').structuredOutputs, true);
    assert.equal(modelTraits('claude-opus-4-20250514').structuredOutputs, false);
    assert.equal(modelTraits('claude-opus-5-5').forcedToolChoice, false);
    assert.equal(modelTraits('claude-opus-5').forcedToolChoice, true);
  });

  it('finds the family inside provider-prefixed or suffixed ids, case-insensitively', () => {
    assert.equal(modelTraits('us.anthropic.claude-sonnet-4-5-20250929-v1:0').maxOutputTokens, 64_000);
    assert.equal(modelTraits('claude-sonnet-4@20250514').maxOutputTokens, 64_000);
    assert.equal(modelTraits('Claude-Haiku-4-5').maxOutputTokens, 64_000);
  });

  it('an unknown model gets the documented fallback: 4096 tokens, JSON through a forced tool', () => {
    assert.deepEqual(modelTraits('my-claude-finetune'), FALLBACK_TRAITS);
    assert.deepEqual(FALLBACK_TRAITS, {
      maxOutputTokens: 4_096,
      structuredOutputs: false,
      forcedToolChoice: true,
    });
  });
});

/** Keys and request records for the store tests. */
import type { KeyRecord } from '../../src/state/types.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';

/** 2026-03-10T12:00:00Z: a Tuesday, mid-day, mid-month. */
export const T0 = Date.UTC(2026, 2, 10, 12);
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

let sequence = 0;

export function makeKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  sequence++;
  return {
    id: `key_${sequence.toString(16).padStart(8, '0')}`,
    name: `key-${sequence}`,
    keyHash: sequence.toString(16).padStart(64, 'a'),
    keyPrefix: 'sk-sy-AbCd',
    team: null,
    models: null,
    rpm: null,
    tpm: null,
    budget: null,
    boundary: null,
    createdAtMs: T0 + sequence,
    expiresAtMs: null,
    revokedAtMs: null,
    ...overrides,
  };
}

export function makeRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  sequence++;
  return {
    id: `req-${sequence}`,
    startedAtMs: T0,
    operation: 'chat',
    keyId: 'key_research',
    keyName: 'research-app',
    team: 'research',
    model: 'gpt-5',
    stream: false,
    status: 200,
    errorCode: null,
    provider: 'azure-eastus',
    deployment: 'gpt-5-prod',
    latencyMs: 812,
    ttftMs: null,
    inputTokens: 100,
    outputTokens: 20,
    cachedTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    costUsd: 0.001,
    boundary: null,
    capacity: null,
    attempts: [
      { provider: 'azure-eastus', deployment: 'gpt-5-prod', outcome: 'ok', status: 200, latencyMs: 800 },
    ],
    ...overrides,
  };
}

/** Request records for the telemetry tests: a served chat request unless overridden. */
import type { AttemptRecord, RequestRecord } from '../../src/telemetry/record.ts';

export function attempt(
  provider: string,
  deployment: string,
  outcome: AttemptRecord['outcome'],
  extra: Partial<AttemptRecord> = {},
): AttemptRecord {
  return { provider, deployment, outcome, latencyMs: 100, ...extra };
}

export function requestRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: 'req-0001',
    startedAtMs: Date.now(),
    operation: 'chat',
    keyId: 'static:app',
    keyName: 'app',
    team: null,
    model: 'gpt-5',
    stream: false,
    status: 200,
    errorCode: null,
    provider: 'azure-eastus',
    deployment: 'gpt-5-prod',
    latencyMs: 1500,
    ttftMs: 400,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 20,
    cacheWriteTokens: null,
    reasoningTokens: null,
    costUsd: 0.25,
    boundary: null,
    capacity: null,
    attempts: [attempt('azure-eastus', 'gpt-5-prod', 'ok', { status: 200 })],
    ...overrides,
  };
}

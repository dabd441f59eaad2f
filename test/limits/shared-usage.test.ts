/** Deployment rpm/tpm shared by replicas: two replicas' states over one store see each other's traffic. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routingSchema } from '../../src/config/schema.ts';
import { MemoryLimitStore } from '../../src/limits/memory.ts';
import { SharedDeploymentUsage } from '../../src/limits/shared-usage.ts';
import { DeploymentStates } from '../../src/routing/deployment-state.ts';

const BREAKER = routingSchema.parse({}).circuitBreaker;
const KEY = 'azure/gpt-5';

test('each replica sees the requests and tokens every replica sent, once refreshed, plus its own since', async () => {
  const store = new MemoryLimitStore();
  const now = Date.now();
  const errors: string[] = [];
  const usageA = new SharedDeploymentUsage(store, [KEY], (op) => errors.push(op));
  const usageB = new SharedDeploymentUsage(store, [KEY], (op) => errors.push(op));
  const a = new DeploymentStates(usageA);
  const b = new DeploymentStates(usageB);
  for (let i = 0; i < 3; i++) a.charge(KEY, 100, now);
  const ticket = b.charge(KEY, 100, now);
  b.charge(KEY, 100, now);
  await new Promise((r) => setImmediate(r));
  // Before a refresh, each knows only its own.
  assert.equal(a.view(KEY, BREAKER, now).rpmUsed, 3);
  await Promise.all([usageA.refresh(now), usageB.refresh(now)]);
  assert.equal(a.view(KEY, BREAKER, now).rpmUsed, 5);
  assert.equal(b.view(KEY, BREAKER, now).tpmUsed, 500);
  // B settles one request to its real usage; A sees it at its next refresh.
  b.settle(KEY, ticket, 40, now);
  await new Promise((r) => setImmediate(r));
  await usageA.refresh(now);
  assert.equal(a.view(KEY, BREAKER, now).tpmUsed, 440);
  // A's own charge since the refresh counts at once.
  a.charge(KEY, 10, now);
  assert.equal(a.view(KEY, BREAKER, now).rpmUsed, 6);
  assert.deepEqual(errors, []);
});

test('when the shared store cannot be read, each replica falls back to its own windows (fails open)', async () => {
  const store = new MemoryLimitStore();
  store.windows = async () => {
    throw new Error('redis down');
  };
  const errors: string[] = [];
  const usage = new SharedDeploymentUsage(store, [KEY], (op) => errors.push(op));
  const states = new DeploymentStates(usage);
  states.charge(KEY, 5, Date.now());
  await usage.refresh();
  assert.equal(states.view(KEY, BREAKER, Date.now()).rpmUsed, 1);
  assert.deepEqual(errors, ['deployment_usage']);
});

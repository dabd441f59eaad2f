/**
 * A restart keeps what governance wrote: API-created keys (and their changes), revocations, the
 * request records (flushed on shutdown: the writer is set never to flush on its own here) and the
 * spend roll-up, on SQLite and on PostgreSQL; and a spawned `serve` flushes its records on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { POSTGRES } from '../helpers/services.ts';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../state/pg-harness.ts';
import {
  ADMIN_KEY,
  admin,
  chat,
  createKey,
  errorOf,
  expectStatus,
  type KeyView,
  requestLog,
  spawnServe,
} from './harness.ts';

const STATIC_KEY = 'sk-persistence-static-01';

let sim: SimCloud;
before(async () => {
  sim = await startSimCloud({ kind: 'openai-compatible' });
});
after(async () => {
  await sim?.close();
});

/** Records are only written when the gateway flushes them: at shutdown, or when an admin view asks. */
function yaml(storage: string): string {
  return `
storage: ${storage}
adminKey: ${ADMIN_KEY}
logging: { flushMs: 600000, batchSize: 10000 }
providers:
  - { id: vllm, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
models:
  - { name: llama, deployments: [{ provider: vllm, model: llama-3.1-8b, price: { input: 1, output: 2 } }] }
  - { name: small, deployments: [{ provider: vllm, model: small-1b, price: { input: 1, output: 2 } }] }
teams:
  - { name: research }
keys:
  - { name: app, key: ${STATIC_KEY} }
`;
}

/** Before the restart: what was made, to check after it. */
interface Before {
  kept: { id: string; key: string };
  revoked: { id: string; key: string };
  requestIds: string[];
}

async function firstLife(url: string): Promise<Before> {
  const kept = await createKey(url, { name: 'kept', team: 'research' });
  const revoked = await createKey(url, { name: 'revoked' });
  const requestIds: string[] = [];
  for (const [key, model] of [
    [kept.key, 'llama'],
    [kept.key, 'small'],
    [revoked.key, 'llama'],
    [STATIC_KEY, 'llama'],
  ] as const) {
    requestIds.push(String(expectStatus(await chat(url, key, model), 200).headers['x-request-id']));
  }
  expectStatus(await admin(url, 'PATCH', `/admin/keys/${kept.id}`, { models: ['llama'], rpm: 99 }), 200);
  expectStatus(await admin(url, 'DELETE', `/admin/keys/${revoked.id}`), 200);
  const refused = expectStatus(await chat(url, revoked.key, 'llama'), 401);
  requestIds.push(String(refused.headers['x-request-id']));
  return { kept, revoked, requestIds };
}

async function secondLife(url: string, before: Before): Promise<void> {
  // The key and its change survived; the revocation too.
  expectStatus(await chat(url, before.kept.key, 'llama'), 200);
  const refusedModel = expectStatus(await chat(url, before.kept.key, 'small'), 403);
  assert.equal(errorOf(refusedModel).code, 'model_not_allowed');
  const refused = expectStatus(await chat(url, before.revoked.key, 'llama'), 401);
  assert.match(errorOf(refused).message, /revoked/);
  const keys = (expectStatus(await admin(url, 'GET', '/admin/keys'), 200).json as { data: KeyView[] }).data;
  const kept = keys.find((k) => k.id === before.kept.id);
  assert.equal(kept?.rpm, 99);
  assert.deepEqual(kept?.models, ['llama']);
  assert.equal(kept?.team, 'research');
  assert.ok(keys.find((k) => k.id === before.revoked.id)?.revokedAt, 'still revoked');

  // Every record of the first life is listed, newest first, after this life's three.
  const records = await requestLog(url, '?limit=100');
  assert.equal(records.length, before.requestIds.length + 3);
  assert.deepEqual(
    records.slice(3).map((r) => r.id),
    [...before.requestIds].reverse(),
  );
  const first = records.find((r) => r.id === before.requestIds[0]);
  assert.equal(first?.keyName, 'kept');
  assert.equal(first?.team, 'research');
  assert.equal(first?.status, 200);
  assert.ok((first?.costUsd ?? 0) > 0);
  assert.equal(first?.attempts[0]?.provider, 'vllm');
  // A revoked key's refusals are recorded under its name (who still uses it), newest first.
  const old = await requestLog(url, '?key=revoked&limit=10');
  assert.deepEqual(
    old.map((r) => r.status),
    [401, 401, 200],
  );
  const refusedBefore = records.find((r) => r.id === before.requestIds.at(-1));
  assert.equal(refusedBefore?.status, 401);
  assert.equal(refusedBefore?.errorCode, 'invalid_api_key');

  // The spend roll-up survived too: the team's spend covers both lives' priced requests.
  const teams = (
    expectStatus(await admin(url, 'GET', '/admin/teams'), 200).json as {
      data: Array<{ name: string; spend: { usd: number } }>;
    }
  ).data;
  const research = records.filter((r) => r.team === 'research').reduce((s, r) => s + (r.costUsd ?? 0), 0);
  assert.ok(research > 0);
  assert.ok(Math.abs((teams[0]?.spend.usd ?? 0) - research) < 1e-12);
}

async function restartCycle(storage: string): Promise<void> {
  const one = await gatewayFromYaml(yaml(storage));
  let made: Before;
  try {
    made = await firstLife(one.url);
    assert.equal(one.gateway.runtime.requestLog.stats.written, 0, 'nothing flushed before shutdown');
  } finally {
    await one.gateway.shutdown(0);
  }
  assert.equal(
    one.gateway.runtime.requestLog.stats.written,
    made.requestIds.length,
    'shutdown flushed every record',
  );
  const two = await gatewayFromYaml(yaml(storage));
  try {
    await secondLife(two.url, made);
  } finally {
    await two.gateway.shutdown(0);
  }
}

describe('restart on SQLite', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-persist-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps keys, changes, revocations, records and spend', async () => {
    await restartCycle(`sqlite:${join(dir, 'switchyard.db')}`);
  });

  it('a spawned serve flushes its records on SIGTERM (exit 0); the next start lists them', async () => {
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, yaml('sqlite:./serve.db'));
    const served = await spawnServe(file);
    let made: Before;
    try {
      made = await firstLife(served.url);
    } finally {
      served.child.kill('SIGTERM');
    }
    assert.equal(await served.exited, 0, served.stderr());
    const two = await gatewayFromYaml(yaml(`sqlite:${join(dir, 'serve.db')}`));
    try {
      await secondLife(two.url, made);
    } finally {
      await two.gateway.shutdown(0);
    }
  });
});

describe('restart on PostgreSQL', POSTGRES, () => {
  let db: ThrowawayDatabase;
  before(async () => {
    db = await createThrowawayDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('keeps keys, changes, revocations, records and spend', async () => {
    await restartCycle(db.url);
  });
});

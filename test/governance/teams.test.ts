/**
 * Teams through the real gateway: a key in a team must satisfy the team's model list and
 * boundary as well as its own (static keys and API keys alike, and a key moved into a team by
 * PATCH from its next request on); GET /admin/teams lists limits, budgets and the spend of the
 * requests served.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { ADMIN_KEY, admin, call, chat, createKey, errorOf, expectStatus, requestLog } from './harness.ts';

const KEYS = {
  researcher: 'sk-governance-researcher-01',
  narrow: 'sk-governance-narrow-0001',
  solo: 'sk-governance-solo-00001',
} as const;

let sim: SimCloud;
let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;

before(async () => {
  sim = await startSimCloud({ kind: 'openai-compatible', models: ['llama-3.1-8b', 'small-1b'] });
  gw = await gatewayFromYaml(`
storage: memory
adminKey: ${ADMIN_KEY}
providers:
  - { id: onprem, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
  - { id: eu-a, type: openai-compatible, region: europe-west4, endpoint: ${sim.url}/v1 }
  - { id: eu-b, type: openai-compatible, region: europe-west1, endpoint: ${sim.url}/v1 }
models:
  - name: llama
    deployments:
      - { provider: onprem, model: llama-3.1-8b, priority: 1, price: { input: 1, output: 2 } }
      - { provider: eu-a, model: llama-3.1-8b, priority: 2, price: { input: 1, output: 2 } }
      - { provider: eu-b, model: llama-3.1-8b, priority: 3, price: { input: 1, output: 2 } }
  - name: small
    deployments: [{ provider: eu-a, model: small-1b, price: { input: 0.5, output: 1 } }]
  - name: onprem-only
    deployments: [{ provider: onprem, model: llama-3.1-8b, price: { input: 1, output: 2 } }]
teams:
  - name: research
    models: [llama, onprem-only]
    rpm: 3000
    tpm: 100000
    budget: { usd: 5000, period: month, mode: hard }
    boundary: { regions: ["europe-*"] }
  - name: ops
keys:
  - { name: researcher, key: ${KEYS.researcher}, team: research, models: [llama, small, onprem-only] }
  - { name: narrow, key: ${KEYS.narrow}, team: research, boundary: { providers: [eu-b] } }
  - { name: solo, key: ${KEYS.solo}, team: ops }
`);
});

after(async () => {
  await gw?.gateway.shutdown(0);
  await sim?.close();
});

describe('a key in a team', () => {
  it("must satisfy the team's model list even when its own allows the model: 403 naming the team rule", async () => {
    const refused = expectStatus(await chat(gw.url, KEYS.researcher, 'small'), 403);
    assert.equal(errorOf(refused).code, 'model_not_allowed');
    assert.equal(
      errorOf(refused).message,
      'team "research" is not allowed to use model "small" (teams[].models)',
    );
    assert.equal(errorOf(refused).param, 'model');
  });

  it("is routed inside the team's boundary although the key has none (the on-prem first choice is skipped)", async () => {
    const response = expectStatus(await chat(gw.url, KEYS.researcher, 'llama'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'eu-a');
  });

  it("gets 403 boundary_violation naming the team's rule when no deployment is inside it", async () => {
    const refused = expectStatus(await chat(gw.url, KEYS.researcher, 'onprem-only'), 403);
    assert.equal(errorOf(refused).code, 'boundary_violation');
    assert.match(
      errorOf(refused).message,
      /team "research" boundary: onprem\/llama-3\.1-8b may process data in on-prem, outside boundary\.regions \[europe-\*\]/,
    );
  });

  it('with its own boundary too: both apply (key providers [eu-b] AND team regions europe-*)', async () => {
    const response = expectStatus(await chat(gw.url, KEYS.narrow, 'llama'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'eu-b');
    const [record] = await requestLog(gw.url, '?key=narrow&limit=1');
    assert.equal(
      record?.boundary,
      'key "narrow": providers=eu-b | team "research": regions=europe-*',
      'the record keeps both boundaries',
    );
    // small is outside the team's list (the key has no list of its own).
    expectStatus(await chat(gw.url, KEYS.narrow, 'small'), 403);
  });

  it('/v1/models lists what key and team both allow, with a deployment inside both boundaries', async () => {
    const list = expectStatus(await call(gw.url, 'GET', '/v1/models', { key: KEYS.researcher }), 200);
    assert.deepEqual(
      (list.json as { data: Array<{ id: string }> }).data.map((m) => m.id),
      ['llama'],
    );
    const solo = expectStatus(await call(gw.url, 'GET', '/v1/models', { key: KEYS.solo }), 200);
    assert.deepEqual(
      (solo.json as { data: Array<{ id: string }> }).data.map((m) => m.id),
      ['llama', 'small', 'onprem-only'],
    );
    expectStatus(await call(gw.url, 'GET', '/v1/models/small', { key: KEYS.researcher }), 404);
  });

  it("an API key PATCHed into a team obeys the team's rules from its next request", async () => {
    const created = await createKey(gw.url, { name: 'joiner' });
    let response = expectStatus(await chat(gw.url, created.key, 'llama'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'onprem');
    expectStatus(await chat(gw.url, created.key, 'small'), 200);
    expectStatus(await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { team: 'research' }), 200);
    response = expectStatus(await chat(gw.url, created.key, 'llama'), 200);
    assert.equal(response.headers['x-switchyard-provider'], 'eu-a');
    const refused = expectStatus(await chat(gw.url, created.key, 'small'), 403);
    assert.match(errorOf(refused).message, /\(teams\[\]\.models\)/);
    const [record] = await requestLog(gw.url, '?key=joiner&limit=1');
    assert.equal(record?.team, 'research');
    // Created straight into the team.
    const member = await createKey(gw.url, { name: 'member', team: 'research' });
    expectStatus(await chat(gw.url, member.key, 'small'), 403);
  });
});

interface TeamView {
  name: string;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  budget: { usd: number; period: string; mode: string } | null;
  boundary: { regions?: string[] } | null;
  spend: { period: string; since: string; usd: number };
}

describe('GET /admin/teams', () => {
  it('lists every team with its limits, budget, boundary and the spend of the requests served', async () => {
    // Some more priced traffic for research; ops gets some too.
    for (let i = 0; i < 3; i++)
      expectStatus(await chat(gw.url, KEYS.researcher, 'llama', `question ${i}`), 200);
    expectStatus(await chat(gw.url, KEYS.solo, 'small'), 200);
    const teams = (expectStatus(await admin(gw.url, 'GET', '/admin/teams'), 200).json as { data: TeamView[] })
      .data;
    assert.deepEqual(
      teams.map((t) => t.name),
      ['research', 'ops'],
    );
    const [research, ops] = teams as [TeamView, TeamView];
    assert.deepEqual(research.models, ['llama', 'onprem-only']);
    assert.equal(research.rpm, 3000);
    assert.equal(research.tpm, 100000);
    assert.deepEqual(research.budget, { usd: 5000, period: 'month', mode: 'hard' });
    assert.deepEqual(research.boundary, { regions: ['europe-*'] });
    assert.equal(research.spend.period, 'month');
    assert.equal(ops.budget, null);

    // The spend is what the request log says each team's requests cost (GET /admin/teams flushed it).
    const records = await requestLog(gw.url, '?limit=1000');
    const costOf = (team: string) =>
      records.filter((r) => r.team === team).reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
    assert.ok(costOf('research') > 0);
    assert.ok(
      Math.abs(research.spend.usd - costOf('research')) < 1e-12,
      `${research.spend.usd} vs ${costOf('research')}`,
    );
    assert.ok(ops.spend.usd > 0);
    assert.ok(Math.abs(ops.spend.usd - costOf('ops')) < 1e-12);
    // Refused requests cost nothing but are recorded under the team.
    assert.ok(records.some((r) => r.team === 'research' && r.status === 403 && r.costUsd === null));
  });
});

describe('a key whose team is no longer configured', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-teams-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is refused (fail closed): the team's rules cannot be checked, so they are not skipped", async () => {
    const storage = `sqlite:${join(dir, 'teams.db')}`;
    const config = (teams: string) => `
storage: ${storage}
adminKey: ${ADMIN_KEY}
providers:
  - { id: onprem, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
models:
  - { name: llama, deployments: [{ provider: onprem, model: llama-3.1-8b }] }
teams:
${teams}
`;
    const first = await gatewayFromYaml(config('  - { name: eu-only, boundary: { regions: ["europe-*"] } }'));
    let key: string;
    try {
      key = (await createKey(first.url, { name: 'eu-member', team: 'eu-only' })).key;
      expectStatus(await chat(first.url, key, 'llama'), 403);
    } finally {
      await first.gateway.shutdown(0);
    }
    // The operator renames the team in the file; the stored key still names the old one.
    const second = await gatewayFromYaml(config('  - { name: eu, boundary: { regions: ["europe-*"] } }'));
    try {
      const refused = expectStatus(await chat(second.url, key, 'llama'), 403);
      assert.match(
        errorOf(refused).message,
        /team "eu-only" of key "eu-member" is not configured \(teams\[\]\)/,
      );
      const models = expectStatus(await call(second.url, 'GET', '/v1/models', { key }), 200);
      assert.deepEqual((models.json as { data: unknown[] }).data, []);
    } finally {
      await second.gateway.shutdown(0);
    }
  });
});

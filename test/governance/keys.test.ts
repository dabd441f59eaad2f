/**
 * Virtual keys over HTTP, against the real gateway in front of a simulated vLLM server: the
 * plaintext shown once, every PATCH field taking effect on the next request, revocation and
 * expiry refusing the very next request, the key cache never serving a revoked key (also when a
 * lookup is in flight while the key is revoked), and a revocation made by another gateway on the
 * same SQLite file reaching this one within a second.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { MemoryStore } from '../../src/state/memory.ts';
import { openStore } from '../../src/state/open.ts';
import type { KeyRecord } from '../../src/state/types.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { POSTGRES } from '../helpers/services.ts';
import { createThrowawayDatabase } from '../state/pg-harness.ts';
import {
  ADMIN_KEY,
  admin,
  call,
  chat,
  createKey,
  errorOf,
  expectStatus,
  type KeyView,
  requestLog,
} from './harness.ts';

const STATIC_KEY = 'sk-governance-static-0001';

function yaml(sim: SimCloud, storage = 'memory'): string {
  return `
storage: ${storage}
adminKey: ${ADMIN_KEY}
providers:
  - { id: vllm, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
  - { id: vllm-eu, type: openai-compatible, region: europe-west4, endpoint: ${sim.url}/v1 }
models:
  - { name: llama, deployments: [{ provider: vllm, model: llama-3.1-8b }] }
  - { name: small, deployments: [{ provider: vllm, model: llama-3.1-8b }] }
teams:
  - { name: research }
keys:
  - { name: app, key: ${STATIC_KEY} }
`;
}

let sim: SimCloud;
before(async () => {
  sim = await startSimCloud({ kind: 'openai-compatible', models: ['llama-3.1-8b'] });
});
after(async () => {
  await sim.close();
});

/** Each store: its place for a test, and how to remove it afterwards. */
type StoreUnderTest = [
  label: string,
  options: { skip?: string },
  open: () => Promise<{ storage: string; close(): Promise<void> }>,
];

const STORES: StoreUnderTest[] = [
  ['memory', {}, async () => ({ storage: 'memory', close: async () => {} })],
  [
    'SQLite',
    {},
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'switchyard-keys-'));
      return {
        storage: `sqlite:${join(dir, 'keys.db')}`,
        close: async () => rmSync(dir, { recursive: true }),
      };
    },
  ],
  [
    'PostgreSQL',
    POSTGRES,
    async () => {
      const db = await createThrowawayDatabase();
      return { storage: db.url, close: () => db.drop() };
    },
  ],
];

for (const [label, options, open] of STORES)
  describe(`keys over the admin API on ${label}`, options, () => {
    let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
    let place: { storage: string; close(): Promise<void> };
    before(async () => {
      place = await open();
      gw = await gatewayFromYaml(yaml(sim, place.storage));
    });
    after(async () => {
      await gw?.gateway.shutdown(0);
      await place?.close();
    });

    it('POST returns the plaintext once (sk-sy- + 43 base64url characters); GET shows only the prefix', async () => {
      const created = await createKey(gw.url, { name: 'once', models: ['llama'] });
      assert.match(created.key, /^sk-sy-[A-Za-z0-9_-]{43}$/);
      assert.match(created.id, /^key_[0-9a-f]{24}$/);
      assert.equal(created.prefix, created.key.slice(0, 10));
      const one = expectStatus(await admin(gw.url, 'GET', `/admin/keys/${created.id}`), 200);
      const list = expectStatus(await admin(gw.url, 'GET', '/admin/keys'), 200);
      for (const response of [one, list]) {
        assert.ok(!response.body.includes(created.key), 'GET never shows the plaintext');
        assert.ok(!response.body.includes(created.key.slice(10)), 'nor its secret part');
        assert.ok(!/"key"\s*:/.test(response.body), 'no key field at all');
      }
      assert.equal((one.json as KeyView).prefix, created.key.slice(0, 10));
      const views = (list.json as { data: Array<KeyView & { source: string }> }).data;
      assert.deepEqual(
        views.map((k) => [k.name, k.source]),
        [
          ['app', 'config'],
          ['once', 'api'],
        ],
      );
      assert.equal(views[0]?.prefix, null, 'a configuration key shows no characters of its secret');
    });

    it('the new key works on /v1/chat/completions and its requests carry its name', async () => {
      const created = await createKey(gw.url, { name: 'worker' });
      const response = expectStatus(await chat(gw.url, created.key, 'llama'), 200);
      const id = String(response.headers['x-request-id']);
      const [record] = await requestLog(gw.url, '?key=worker&limit=1');
      assert.equal(record?.id, id);
      assert.equal(record?.keyName, 'worker');
    });

    it('PATCH models: the next request obeys it, null clears it', async () => {
      const created = await createKey(gw.url, { name: 'patch-models' });
      expectStatus(await chat(gw.url, created.key, 'small'), 200);
      const patched = expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { models: ['llama'] }),
        200,
      );
      assert.deepEqual((patched.json as KeyView).models, ['llama']);
      const refused = expectStatus(await chat(gw.url, created.key, 'small'), 403);
      assert.equal(errorOf(refused).code, 'model_not_allowed');
      assert.match(
        errorOf(refused).message,
        /key "patch-models" is not allowed to use model "small" \(keys\[\]\.models\)/,
      );
      expectStatus(await chat(gw.url, created.key, 'llama'), 200);
      const cleared = expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { models: null }),
        200,
      );
      assert.equal((cleared.json as KeyView).models, null);
      expectStatus(await chat(gw.url, created.key, 'small'), 200);
    });

    it('PATCH boundary: the next request obeys it, null clears it', async () => {
      const created = await createKey(gw.url, { name: 'patch-boundary' });
      expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { boundary: { regions: ['europe-*'] } }),
        200,
      );
      // llama has only the on-prem deployment: outside europe-*.
      const refused = expectStatus(await chat(gw.url, created.key, 'llama'), 403);
      assert.equal(errorOf(refused).code, 'boundary_violation');
      expectStatus(await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { boundary: null }), 200);
      expectStatus(await chat(gw.url, created.key, 'llama'), 200);
    });

    it('PATCH rpm, name, team and expiresAt: stored, shown, null clears', async () => {
      const created = await createKey(gw.url, { name: 'patch-fields', rpm: 10 });
      assert.equal(created.rpm, 10);
      const patched = expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, {
          rpm: 20,
          name: 'patch-fields-2',
          team: 'research',
          expiresAt: '2099-01-01T00:00:00Z',
        }),
        200,
      ).json as KeyView;
      assert.equal(patched.rpm, 20);
      assert.equal(patched.name, 'patch-fields-2');
      assert.equal(patched.team, 'research');
      assert.equal(patched.expiresAt, '2099-01-01T00:00:00.000Z');
      const response = expectStatus(await chat(gw.url, created.key, 'llama'), 200);
      const [record] = await requestLog(gw.url, '?limit=1');
      assert.equal(record?.id, response.headers['x-request-id']);
      assert.equal(record?.keyName, 'patch-fields-2', 'the new name is recorded from the next request on');
      assert.equal(record?.team, 'research');
      const cleared = expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${created.id}`, { rpm: null, team: null, expiresAt: null }),
        200,
      ).json as KeyView;
      assert.equal(cleared.rpm, null);
      assert.equal(cleared.team, null);
      assert.equal(cleared.expiresAt, null);
      const fetched = expectStatus(await admin(gw.url, 'GET', `/admin/keys/${created.id}`), 200)
        .json as KeyView;
      assert.deepEqual(fetched, cleared);
    });

    it('unknown team, model or provider: 400 naming the field; nothing changes', async () => {
      const created = await createKey(gw.url, { name: 'refs' });
      const cases: Array<[body: Record<string, unknown>, param: string, text: RegExp]> = [
        [{ team: 'nope' }, 'team', /^team: unknown team "nope"/],
        [{ models: ['llama', 'gpt-9'] }, 'models[1]', /^models\[1\]: unknown model "gpt-9"/],
        [
          { boundary: { providers: ['vllm', 'azure-nowhere'] } },
          'boundary.providers[1]',
          /^boundary\.providers\[1\]: unknown provider "azure-nowhere"/,
        ],
        [{ rpm: 0 }, 'rpm', /^rpm: /],
        [{ rpm: 1.5 }, 'rpm', /^rpm: /],
        [{ expiresAt: 'tomorrow' }, 'expiresAt', /^expiresAt: expected an ISO 8601 time/],
        [{ expiresAt: '2030-02-30T00:00:00Z' }, 'expiresAt', /^expiresAt: expected an ISO 8601 time/],
        [{ boundary: { regions: 'europe-*' } }, 'boundary.regions', /^boundary\.regions: /],
        [{ colour: 'blue' }, '', /unrecognized argument "colour"/],
      ];
      for (const [body, param, text] of cases) {
        for (const [method, path, payload] of [
          ['PATCH', `/admin/keys/${created.id}`, body],
          ['POST', '/admin/keys', { name: 'refs-new', ...body }],
        ] as const) {
          const response = expectStatus(await admin(gw.url, method, path, payload), 400);
          const error = errorOf(response);
          assert.match(error.message, text, `${method} ${JSON.stringify(body)}`);
          if (param !== '') assert.equal(error.param, param);
        }
      }
      const after = expectStatus(await admin(gw.url, 'GET', `/admin/keys/${created.id}`), 200)
        .json as KeyView;
      assert.equal(after.team, null);
      assert.equal(after.models, null);
      assert.equal(after.boundary, null);
      const names = (
        expectStatus(await admin(gw.url, 'GET', '/admin/keys'), 200).json as { data: KeyView[] }
      ).data.map((k) => k.name);
      assert.ok(!names.includes('refs-new'));
    });

    it('a duplicate name is a 409, for API keys and configuration keys alike', async () => {
      const first = await createKey(gw.url, { name: 'dup-a' });
      await createKey(gw.url, { name: 'dup-b' });
      for (const [method, path, body] of [
        ['POST', '/admin/keys', { name: 'dup-a' }],
        ['POST', '/admin/keys', { name: 'app' }],
        ['PATCH', `/admin/keys/${first.id}`, { name: 'dup-b' }],
        ['PATCH', `/admin/keys/${first.id}`, { name: 'app' }],
      ] as const) {
        const response = expectStatus(await admin(gw.url, method, path, body), 409);
        assert.equal(errorOf(response).code, 'conflict');
        assert.match(errorOf(response).message, /^name: /);
      }
      // Renaming a key to its own name is not a conflict.
      expectStatus(await admin(gw.url, 'PATCH', `/admin/keys/${first.id}`, { name: 'dup-a' }), 200);
    });

    it('configuration keys are read-only; unknown ids are 404', async () => {
      const view = expectStatus(await admin(gw.url, 'GET', '/admin/keys/static:app'), 200).json as KeyView;
      assert.equal(view.name, 'app');
      expectStatus(await admin(gw.url, 'PATCH', '/admin/keys/static:app', { rpm: 5 }), 409);
      expectStatus(await admin(gw.url, 'DELETE', '/admin/keys/static:app'), 409);
      expectStatus(await chat(gw.url, STATIC_KEY, 'llama'), 200);
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const response = await admin(
          gw.url,
          method,
          '/admin/keys/key_ffffffffffffffffffffffff',
          method === 'PATCH' ? {} : undefined,
        );
        expectStatus(response, 404);
      }
    });

    it('DELETE revokes: the very next request gets 401; revoking again changes nothing', async () => {
      const created = await createKey(gw.url, { name: 'revoke-me' });
      // Used first, so its lookup is cached.
      expectStatus(await chat(gw.url, created.key, 'llama'), 200);
      expectStatus(await chat(gw.url, created.key, 'llama'), 200);
      const revoked = expectStatus(await admin(gw.url, 'DELETE', `/admin/keys/${created.id}`), 200)
        .json as KeyView;
      assert.ok(revoked.revokedAt !== null);
      const refused = expectStatus(await chat(gw.url, created.key, 'llama'), 401);
      assert.match(String(refused.headers['www-authenticate']), /^Bearer/);
      assert.match(errorOf(refused).message, /revoked/);
      assert.ok(!refused.body.includes(created.key));
      // The refusal is recorded under the key's name: an operator sees who still uses it.
      const [record] = await requestLog(gw.url, '?limit=1');
      assert.equal(record?.status, 401);
      assert.equal(record?.keyName, 'revoke-me');
      const again = expectStatus(await admin(gw.url, 'DELETE', `/admin/keys/${created.id}`), 200)
        .json as KeyView;
      assert.equal(again.revokedAt, revoked.revokedAt);
      expectStatus(await chat(gw.url, created.key, 'llama'), 401);
      expectStatus(await call(gw.url, 'GET', '/v1/models', { key: created.key }), 401);
    });

    it('expiresAt in the past: 401; a cached key is refused once it expires', async () => {
      const past = await createKey(gw.url, { name: 'expired', expiresAt: '2020-01-01T00:00:00Z' });
      const refused = expectStatus(await chat(gw.url, past.key, 'llama'), 401);
      assert.match(errorOf(refused).message, /expired/);
      const soon = await createKey(gw.url, {
        name: 'expires-soon',
        expiresAt: new Date(Date.now() + 1500).toISOString(),
      });
      expectStatus(await chat(gw.url, soon.key, 'llama'), 200);
      await new Promise((r) => setTimeout(r, 1600));
      expectStatus(await chat(gw.url, soon.key, 'llama'), 401);
      // PATCHing expiry into the past on a working key.
      const live = await createKey(gw.url, { name: 'expire-by-patch' });
      expectStatus(await chat(gw.url, live.key, 'llama'), 200);
      expectStatus(
        await admin(gw.url, 'PATCH', `/admin/keys/${live.id}`, { expiresAt: '2021-01-01T00:00:00Z' }),
        200,
      );
      expectStatus(await chat(gw.url, live.key, 'llama'), 401);
    });

    it('a static key with expiresAt in the past is refused', async () => {
      const expired = await gatewayFromYaml(
        `${yaml(sim)}  - { name: old, key: sk-governance-old-0001, expiresAt: "2020-01-01T00:00:00Z" }\n`,
      );
      try {
        expectStatus(await chat(expired.url, 'sk-governance-old-0001', 'llama'), 401);
        expectStatus(await chat(expired.url, STATIC_KEY, 'llama'), 200);
      } finally {
        await expired.gateway.shutdown(0);
      }
    });
  });

/**
 * A memory store whose key lookups wait until released, so a revocation can land while one is
 * in flight; its version never changes, so only the local invalidation can protect the cache.
 */
class GatedStore extends MemoryStore {
  gate: Promise<void> | undefined;
  lookups = 0;
  override async findKeyByHash(keyHash: string): Promise<KeyRecord | undefined> {
    const found = await super.findKeyByHash(keyHash);
    this.lookups++;
    await this.gate;
    return found;
  }
  versionReads = 0;
  override async keysVersion(): Promise<number> {
    this.versionReads++;
    return 0;
  }
}

describe('the key cache never serves a revoked key', () => {
  it('a lookup that read the key before its revocation is not cached after it', async () => {
    const store = new GatedStore();
    const gw = await gatewayFromYaml(yaml(sim), { store });
    try {
      const created = await createKey(gw.url, { name: 'raced' });
      // After the first version reading, the poller never clears the cache again (the version never moves).
      while (store.versionReads === 0) await new Promise((r) => setTimeout(r, 10));
      let release = () => {};
      store.gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const inFlight = chat(gw.url, created.key, 'llama');
      while (store.lookups === 0) await new Promise((r) => setTimeout(r, 5));
      // The lookup read the live key and waits; the key is revoked meanwhile.
      expectStatus(await admin(gw.url, 'DELETE', `/admin/keys/${created.id}`), 200);
      release();
      store.gate = undefined;
      await inFlight;
      const next = await chat(gw.url, created.key, 'llama');
      expectStatus(next, 401);
    } finally {
      await gw.gateway.shutdown(0);
    }
  });
});

for (const [label, options, open] of STORES.slice(1))
  describe(`two gateways on one ${label} store`, options, () => {
    let place: { storage: string; close(): Promise<void> };
    before(async () => {
      place = await open();
    });
    after(async () => {
      await place?.close();
    });

    it('a key created on one works on the other; its revocation there reaches this one within 1 s', async () => {
      const { storage } = place;
      const a = await gatewayFromYaml(yaml(sim, storage));
      const b = await gatewayFromYaml(yaml(sim, storage));
      try {
        const created = await createKey(a.url, { name: 'shared' });
        // b caches the key on first use (after a has created it: a cached miss would be dropped too).
        expectStatus(await chat(b.url, created.key, 'llama'), 200);
        expectStatus(await chat(b.url, created.key, 'llama'), 200);
        // A change made on a: b's cached lookup must go.
        expectStatus(await admin(a.url, 'PATCH', `/admin/keys/${created.id}`, { models: ['small'] }), 200);
        const patchedAt = Date.now();
        let refusedModel: number | undefined;
        while (Date.now() - patchedAt < 1000) {
          if ((await chat(b.url, created.key, 'llama')).status === 403) {
            refusedModel = Date.now() - patchedAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(refusedModel !== undefined, 'the model list changed on a reached b within 1 s');

        expectStatus(await admin(a.url, 'DELETE', `/admin/keys/${created.id}`), 200);
        const revokedAt = Date.now();
        let refusedAfter: number | undefined;
        while (Date.now() - revokedAt < 1000) {
          if ((await chat(b.url, created.key, 'small')).status === 401) {
            refusedAfter = Date.now() - revokedAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(refusedAfter !== undefined, 'the revocation on a reached b within 1 s');
        // And from then on, always refused.
        for (let i = 0; i < 3; i++) expectStatus(await chat(b.url, created.key, 'small'), 401);
        // b lists the key as revoked (it reads the same store).
        const view = expectStatus(await admin(b.url, 'GET', `/admin/keys/${created.id}`), 200)
          .json as KeyView;
        assert.ok(view.revokedAt !== null);
      } finally {
        await Promise.all([a.gateway.shutdown(0), b.gateway.shutdown(0)]);
      }
    });

    it('a revocation stamped by a replica whose clock runs ahead is refused here at once, not when this clock catches up', async () => {
      const gw = await gatewayFromYaml(yaml(sim, place.storage));
      // The other replica, as a plain store connection to the same database.
      const other = await openStore(place.storage);
      try {
        const created = await createKey(gw.url, { name: 'skewed' });
        expectStatus(await chat(gw.url, created.key, 'llama'), 200);
        await other.updateKey(created.id, { revokedAtMs: Date.now() + 5 * 60_000 });
        const revokedAt = Date.now();
        let refused = false;
        while (!refused && Date.now() - revokedAt < 1000) {
          refused = (await chat(gw.url, created.key, 'llama')).status === 401;
          if (!refused) await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(refused, 'refused within 1 s although its revokedAt is 5 minutes ahead of this clock');
      } finally {
        await other.close();
        await gw.gateway.shutdown(0);
      }
    });
  });

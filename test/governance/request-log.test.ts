/**
 * The request log and the usage report through the real gateway on SQLite: /admin/requests
 * (newest first, limit/key/model filters, attempts with their reasons, tokens, cost: priced,
 * overridden, unpriced and counted in /metrics), bodies kept only with logging.bodies: true (the
 * database file searched too), /admin/usage by every grouping over a range in JSON and CSV
 * matching the requests made, and the retention job deleting records older than retentionDays.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { openStore } from '../../src/state/open.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { POSTGRES } from '../helpers/services.ts';
import { makeRecord } from '../state/fixtures.ts';
import { createThrowawayDatabase } from '../state/pg-harness.ts';
import {
  ADMIN_KEY,
  admin,
  call,
  chat,
  createKey,
  expectStatus,
  metricValue,
  type RequestView,
  requestLog,
} from './harness.ts';

const KEYS = { alice: 'sk-requestlog-alice-0001', bob: 'sk-requestlog-bob-00001' } as const;
const OPENAI_KEY = 'sk-requestlog-openai-upstream';

let openai: SimCloud;
let vllm: SimCloud;
let dir: string;
before(async () => {
  [openai, vllm] = await Promise.all([
    startSimCloud({ kind: 'openai', apiKeys: [OPENAI_KEY] }),
    startSimCloud({ kind: 'openai-compatible' }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'switchyard-requestlog-'));
});
after(async () => {
  await Promise.all([openai?.close(), vllm?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function yaml(storage: string, logging: string): string {
  return `
storage: ${storage}
adminKey: ${ADMIN_KEY}
logging: ${logging}
routing:
  retry: { maxAttempts: 3, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: openai, type: openai, region: us, endpoint: ${openai.url}/v1, apiKey: ${OPENAI_KEY} }
  - { id: vllm-a, type: openai-compatible, region: on-prem, endpoint: ${vllm.url}/v1 }
  - { id: vllm-b, type: openai-compatible, region: on-prem, endpoint: ${vllm.url}/v1 }
models:
  - { name: gpt-5, deployments: [{ provider: openai, model: gpt-5 }] }
  - { name: priced-llama, deployments: [{ provider: vllm-a, model: llama-priced, price: { input: 2, output: 4 } }] }
  - { name: llama, deployments: [{ provider: vllm-a, model: llama-3.1-8b }] }
  - name: flaky
    deployments:
      - { provider: vllm-a, model: flaky-model, priority: 1 }
      - { provider: vllm-b, model: flaky-model, priority: 2 }
teams:
  - { name: research }
keys:
  - { name: alice, key: ${KEYS.alice}, team: research }
  - { name: bob, key: ${KEYS.bob} }
`;
}

function rawFiles(path: string): string {
  return [path, `${path}-wal`]
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('utf8'))
    .join('\n');
}

describe('GET /admin/requests', () => {
  let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
  const ids: Record<string, string> = {};
  before(async () => {
    gw = await gatewayFromYaml(yaml(`sqlite:${join(dir, 'requests.db')}`, '{ bodies: false }'));
    const send = async (name: string, key: string, model: string, content = 'hello log') => {
      const response = expectStatus(await chat(gw.url, key, model, content), 200);
      ids[name] = String(response.headers['x-request-id']);
    };
    await send('alice-gpt', KEYS.alice, 'gpt-5', 'SECRET-PROMPT-MARKER one two three');
    await send('bob-priced', KEYS.bob, 'priced-llama');
    await send('bob-llama', KEYS.bob, 'llama');
    vllm.addFaults([{ kind: 'status', status: 503, match: { model: 'flaky-model' } }]);
    await send('alice-flaky', KEYS.alice, 'flaky');
    const stream = await call(gw.url, 'POST', '/v1/chat/completions', {
      key: KEYS.alice,
      body: { model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'stream it' }] },
    });
    expectStatus(stream, 200);
    ids['alice-stream'] = String(stream.headers['x-request-id']);
  });
  after(async () => {
    await gw?.gateway.shutdown(0);
  });

  it('lists newest first; limit, key and model filter', async () => {
    const all = await requestLog(gw.url);
    assert.deepEqual(
      all.map((r) => r.id),
      ['alice-stream', 'alice-flaky', 'bob-llama', 'bob-priced', 'alice-gpt'].map((n) => ids[n]),
    );
    for (let i = 1; i < all.length; i++) assert.ok((all[i - 1]?.time ?? '') >= (all[i]?.time ?? ''));
    assert.deepEqual(
      (await requestLog(gw.url, '?limit=2')).map((r) => r.id),
      [ids['alice-stream'], ids['alice-flaky']],
    );
    assert.deepEqual(
      (await requestLog(gw.url, '?key=bob')).map((r) => r.id),
      [ids['bob-llama'], ids['bob-priced']],
    );
    assert.deepEqual(
      (await requestLog(gw.url, '?model=gpt-5')).map((r) => r.id),
      [ids['alice-stream'], ids['alice-gpt']],
    );
    assert.deepEqual(
      (await requestLog(gw.url, '?key=alice&model=flaky')).map((r) => r.id),
      [ids['alice-flaky']],
    );
    assert.deepEqual(await requestLog(gw.url, '?key=nobody'), []);
    for (const bad of ['?limit=0', '?limit=abc', '?limit=1001']) {
      const response = expectStatus(await admin(gw.url, 'GET', `/admin/requests${bad}`), 400);
      assert.match(response.body, /limit: expected an integer from 1 to 1000/);
    }
    // A misspelt filter is named, not ignored (which would list every key's requests).
    const misspelt = expectStatus(await admin(gw.url, 'GET', '/admin/requests?keyName=bob'), 400);
    assert.match(misspelt.body, /"message":"keyName: unknown parameter \(expected limit, key, model\)"/);
  });

  it('each record: key, team, model, status, latency, tokens, cost and every attempt with its reason', async () => {
    const byId = new Map((await requestLog(gw.url)).map((r) => [r.id, r]));
    const gpt = byId.get(ids['alice-gpt'] ?? '') as RequestView;
    assert.equal(gpt.keyName, 'alice');
    assert.equal(gpt.team, 'research');
    assert.equal(gpt.model, 'gpt-5');
    assert.equal(gpt.status, 200);
    assert.equal(gpt.provider, 'openai');
    assert.ok(gpt.latencyMs >= 0);
    assert.ok((gpt.inputTokens ?? 0) > 0 && (gpt.outputTokens ?? 0) > 0);
    // gpt-5 from the built-in catalog: $1.25 in, $10 out per million.
    assert.ok((gpt.costUsd ?? 0) > 0);
    assert.ok(
      Math.abs((gpt.costUsd ?? 0) - ((gpt.inputTokens ?? 0) * 1.25 + (gpt.outputTokens ?? 0) * 10) / 1e6) <
        1e-12,
    );
    assert.equal(gpt.attempts.length, 1);
    const [attempt] = gpt.attempts;
    assert.equal(attempt?.provider, 'openai');
    assert.equal(attempt?.deployment, 'gpt-5');
    assert.equal(attempt?.outcome, 'ok');
    assert.equal(attempt?.status, 200);
    assert.ok(typeof attempt?.latencyMs === 'number');
    assert.match(String(attempt?.reason), /^chosen/);

    const priced = byId.get(ids['bob-priced'] ?? '') as RequestView;
    assert.equal(priced.team, null);
    assert.ok(
      Math.abs(
        (priced.costUsd ?? 0) - ((priced.inputTokens ?? 0) * 2 + (priced.outputTokens ?? 0) * 4) / 1e6,
      ) < 1e-12,
      'the deployment price override is used',
    );

    const unpriced = byId.get(ids['bob-llama'] ?? '') as RequestView;
    assert.equal(unpriced.costUsd, null, 'an openai-compatible model without a price has cost null, not 0');
    assert.ok((unpriced.inputTokens ?? 0) > 0);

    const flaky = byId.get(ids['alice-flaky'] ?? '') as RequestView;
    assert.equal(flaky.provider, 'vllm-b');
    assert.deepEqual(
      flaky.attempts.map((a) => [a.provider, a.outcome, a.status]),
      [
        ['vllm-a', 'failed', 503],
        ['vllm-b', 'ok', 200],
      ],
    );
    assert.match(String(flaky.attempts[0]?.reason), /overloaded/);
    assert.match(String(flaky.attempts[1]?.reason), /fallback/);

    const stream = byId.get(ids['alice-stream'] ?? '') as RequestView;
    assert.ok(stream.ttftMs !== null && stream.ttftMs >= 0, 'a stream records its time to first token');
    assert.ok((stream.outputTokens ?? 0) > 0, 'a stream records usage (asked of the cloud)');
    assert.ok((stream.costUsd ?? 0) > 0);
  });

  it('unpriced requests are counted in switchyard_unpriced_requests_total', async () => {
    const metrics = expectStatus(await call(gw.url, 'GET', '/metrics'), 200).body;
    assert.equal(metricValue(metrics, 'switchyard_unpriced_requests_total', { model: 'llama' }), 1);
    assert.equal(metricValue(metrics, 'switchyard_unpriced_requests_total', { model: 'gpt-5' }), undefined);
    assert.ok((metricValue(metrics, 'switchyard_cost_usd_total', { model: 'gpt-5' }) ?? 0) > 0);
  });

  it('logging.bodies: false keeps no prompt or completion, in the API or the file', async () => {
    const records = await requestLog(gw.url);
    for (const r of records) {
      assert.equal(r.requestBody, undefined);
      assert.equal(r.responseBody, undefined);
    }
    const file = rawFiles(join(dir, 'requests.db'));
    assert.ok(file.includes(ids['alice-gpt'] ?? 'x'), 'the records are in the file');
    assert.ok(!file.includes('SECRET-PROMPT-MARKER'), 'the prompt is not');
    assert.ok(!file.includes('You said'), 'the completion is not');
  });
});

describe('logging.bodies: true', () => {
  it('keeps the prompt and the completion (streamed too)', async () => {
    const gw = await gatewayFromYaml(yaml(`sqlite:${join(dir, 'bodies.db')}`, '{ bodies: true }'));
    try {
      expectStatus(await chat(gw.url, KEYS.bob, 'llama', 'KEEP-THIS-PROMPT'), 200);
      expectStatus(
        await call(gw.url, 'POST', '/v1/chat/completions', {
          key: KEYS.bob,
          body: {
            model: 'llama',
            stream: true,
            messages: [{ role: 'user', content: 'KEEP-STREAMED-PROMPT' }],
          },
        }),
        200,
      );
      const [streamed, plain] = await requestLog(gw.url);
      assert.match(String(plain?.requestBody), /KEEP-THIS-PROMPT/);
      assert.match(String(plain?.responseBody), /You said: KEEP-THIS-PROMPT/);
      assert.match(String(streamed?.requestBody), /KEEP-STREAMED-PROMPT/);
      assert.match(String(streamed?.responseBody), /KEEP-STREAMED-PROMPT/);
    } finally {
      await gw.gateway.shutdown(0);
    }
  });
});

interface UsageRowView {
  group: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedRequests: number;
}

/** The usage report on each store (each one's own grouping code). */
const USAGE_STORES: Array<
  [
    label: string,
    options: { skip?: string },
    open: () => Promise<{ storage: string; close(): Promise<void> }>,
  ]
> = [
  ['SQLite', {}, async () => ({ storage: `sqlite:${join(dir, 'usage.db')}`, close: async () => {} })],
  ['memory', {}, async () => ({ storage: 'memory', close: async () => {} })],
  [
    'PostgreSQL',
    POSTGRES,
    async () => {
      const db = await createThrowawayDatabase();
      return { storage: db.url, close: () => db.drop() };
    },
  ],
];

for (const [label, options, open] of USAGE_STORES)
  describe(`GET /admin/usage on ${label}`, options, () => {
    let gw: Awaited<ReturnType<typeof gatewayFromYaml>>;
    let made: RequestView[];
    let store: { storage: string; close(): Promise<void> };
    before(async () => {
      store = await open();
      gw = await gatewayFromYaml(yaml(store.storage, '{ bodies: false }'));
      const api = await createKey(gw.url, { name: 'carol', team: 'research' });
      for (const [key, model] of [
        [KEYS.alice, 'gpt-5'],
        [KEYS.alice, 'priced-llama'],
        [KEYS.alice, 'llama'],
        [KEYS.bob, 'gpt-5'],
        [KEYS.bob, 'priced-llama'],
        [api.key, 'priced-llama'],
        [api.key, 'llama'],
      ] as const) {
        expectStatus(await chat(gw.url, key, model), 200);
      }
      expectStatus(await chat(gw.url, 'sk-not-a-key-at-all', 'gpt-5'), 401);
      made = await requestLog(gw.url, '?limit=1000');
      assert.equal(made.length, 8);
    });
    after(async () => {
      await gw?.gateway.shutdown(0);
      await store?.close();
    });

    /** The report computed from the request log itself. */
    function expected(field: (r: RequestView) => string | null): Map<string, UsageRowView> {
      const rows = new Map<string, UsageRowView>();
      for (const r of made) {
        const group = field(r) ?? '(none)';
        const row = rows.get(group) ?? {
          group,
          requests: 0,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          unpricedRequests: 0,
        };
        row.requests++;
        row.inputTokens += r.inputTokens ?? 0;
        row.outputTokens += r.outputTokens ?? 0;
        row.costUsd += r.costUsd ?? 0;
        // Unpriced: served with an unknown cost. A refused request (the 401) is not missing a price.
        if (r.costUsd === null && r.provider !== null && r.status < 400) row.unpricedRequests++;
        rows.set(group, row);
      }
      return rows;
    }

    const groupings: Array<[string, (r: RequestView) => string | null]> = [
      ['key', (r) => r.keyName],
      ['team', (r) => r.team],
      ['provider', (r) => r.provider],
      // An unauthenticated request names no model: it is counted under (none), like the other groupings.
      ['model', (r) => r.model || null],
      ['deployment', (r) => r.attempts.find((a) => a.outcome === 'ok')?.deployment ?? null],
    ];

    for (const [groupBy, field] of groupings) {
      it(`groupBy=${groupBy}: JSON and CSV match the requests made`, async () => {
        const json = expectStatus(await admin(gw.url, 'GET', `/admin/usage?groupBy=${groupBy}`), 200)
          .json as {
          groupBy: string;
          rows: UsageRowView[];
        };
        assert.equal(json.groupBy, groupBy);
        const want = expected(field);
        assert.deepEqual(json.rows.map((r) => r.group).sort(), [...want.keys()].sort());
        for (const row of json.rows) {
          const w = want.get(row.group);
          assert.equal(row.requests, w?.requests, `${groupBy} ${row.group}`);
          assert.equal(row.inputTokens, w?.inputTokens);
          assert.equal(row.outputTokens, w?.outputTokens);
          assert.ok(Math.abs(row.costUsd - (w?.costUsd ?? 0)) < 1e-12);
          assert.equal(row.unpricedRequests, w?.unpricedRequests);
        }
        // Most expensive first.
        for (let i = 1; i < json.rows.length; i++) {
          assert.ok((json.rows[i - 1]?.costUsd ?? 0) >= (json.rows[i]?.costUsd ?? 0));
        }
        const csv = expectStatus(
          await admin(gw.url, 'GET', `/admin/usage?groupBy=${groupBy}&format=csv`),
          200,
        );
        assert.match(String(csv.headers['content-type']), /^text\/csv/);
        const [header, ...lines] = csv.body.trimEnd().split('\n');
        assert.equal(header, 'group,requests,inputTokens,outputTokens,costUsd,unpricedRequests');
        assert.deepEqual(
          lines,
          json.rows.map((r) =>
            [r.group, r.requests, r.inputTokens, r.outputTokens, r.costUsd, r.unpricedRequests].join(','),
          ),
        );
      });
    }

    it('a range: from/to select by the request start time; bad parameters are 400s naming them', async () => {
      const at = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
      const rows = async (range: string) =>
        (
          expectStatus(await admin(gw.url, 'GET', `/admin/usage?groupBy=key&${range}`), 200).json as {
            rows: UsageRowView[];
          }
        ).rows;
      assert.deepEqual(await rows(`from=${at(1)}&to=${at(2)}`), [], 'a range after the requests');
      assert.deepEqual(await rows(`from=${at(-2)}&to=${at(-1)}`), [], 'a range before them');
      const all = await rows(`from=${at(-1)}&to=${at(1)}`);
      assert.equal(
        all.reduce((n, r) => n + r.requests, 0),
        8,
      );
      for (const [query, param] of [
        ['groupBy=colour', 'groupBy'],
        ['groupby=team', 'groupby'],
        ['from=yesterday', 'from'],
        // Date.parse alone takes February 30th for March 2nd.
        ['from=2026-02-30', 'from'],
        ['to=2026-13-45', 'to'],
        [`from=${at(1)}&to=${at(-1)}`, 'to'],
        ['format=xml', 'format'],
      ]) {
        const response = expectStatus(await admin(gw.url, 'GET', `/admin/usage?${query}`), 400);
        assert.match(response.body, new RegExp(`"message":"${param}: `), query);
      }
    });
  });

describe('retention', () => {
  it('the gateway deletes records older than logging.retentionDays soon after start', async () => {
    const path = join(dir, 'retention.db');
    const day = 86_400_000;
    const now = Date.now();
    const store = await openStore(`sqlite:${path}`);
    await store.insertRequests([
      makeRecord({ id: 'req_old_40d', startedAtMs: now - 40 * day, keyName: 'bob' }),
      makeRecord({ id: 'req_old_8d', startedAtMs: now - 8 * day, keyName: 'bob' }),
      makeRecord({ id: 'req_recent_2d', startedAtMs: now - 2 * day, keyName: 'bob' }),
    ]);
    await store.close();
    const gw = await gatewayFromYaml(yaml(`sqlite:${path}`, '{ retentionDays: 7 }'));
    try {
      const listed = async () => (await requestLog(gw.url, '?limit=100')).map((r) => r.id);
      // The job's first run is due right after start; poll for it (bounded).
      let ids = await listed();
      for (const until = Date.now() + 5000; ids.includes('req_old_8d') && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 50));
        ids = await listed();
      }
      assert.deepEqual(ids, ['req_recent_2d']);
      // The usage report of the range holding them agrees.
      const usage = expectStatus(
        await admin(gw.url, 'GET', `/admin/usage?groupBy=key&from=${new Date(now - 60 * day).toISOString()}`),
        200,
      ).json as { rows: UsageRowView[] };
      assert.deepEqual(
        usage.rows.map((r) => [r.group, r.requests]),
        [['bob', 1]],
      );
    } finally {
      await gw.gateway.shutdown(0);
    }
  });
});

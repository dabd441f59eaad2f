/**
 * Several replicas, one truth: three `switchyard serve` processes sharing Redis and PostgreSQL
 * behind a round-robin proxy. Limits are global, budgets hold across replicas, revocations reach
 * every replica within a second, and a replica killed mid-stream loses no settled spend while its
 * reservation expires by itself.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  assertResponse,
  chunkFrame,
  completion,
  send,
  startUpstream,
  type Upstream,
} from '../helpers/raw.ts';
import { POSTGRES, REDIS } from '../helpers/services.ts';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../state/pg-harness.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
const ADMIN = `sy-admin-${randomBytes(8).toString('hex')}`;
const RUN = randomBytes(4).toString('hex');
const KEYS = {
  rpm: `sk-cluster-rpm-${RUN}`,
  budget: `sk-cluster-budget-${RUN}`,
  survivor: `sk-cluster-survivor-${RUN}`,
  free: `sk-cluster-free-${RUN}`,
};

interface Replica {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function startReplica(configFile: string): Promise<Replica> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    void exited.then(() => reject(new Error(`replica exited before listening:\n${output}`)));
  });
  return { child, url, exited };
}

/** Round-robin over the replicas, one request each in turn. */
async function startProxy(targets: () => string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const server: Server = createServer((req, res) => {
    const list = targets();
    const target = new URL(list[next++ % list.length]!);
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const chat = (stream = false) =>
  JSON.stringify({ model: 'm', max_tokens: 100, stream, messages: [{ role: 'user', content: 'hi' }] });

describe('three replicas sharing Redis and PostgreSQL', { ...POSTGRES, ...REDIS }, () => {
  let db: ThrowawayDatabase;
  let up: Upstream;
  let replicas: Replica[] = [];
  let proxy: Awaited<ReturnType<typeof startProxy>>;

  before(async () => {
    db = await createThrowawayDatabase();
    // Usage 3 + 100 tokens at $100/M: $0.0103 a request; the bound of one is $0.0118.
    up = await startUpstream((_req, res, _up, body) => {
      const usage = { prompt_tokens: 3, completion_tokens: 100, total_tokens: 103 };
      if (JSON.parse(body).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let sent = 0;
        const tick = setInterval(() => {
          if (res.destroyed) return clearInterval(tick);
          if (sent++ < 30) res.write(chunkFrame({ content: `w${sent} ` }));
          else {
            clearInterval(tick);
            res.end(
              `${chunkFrame({}, 'stop')}data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage })}\n\ndata: [DONE]\n\n`,
            );
          }
        }, 100);
        return;
      }
      const answer = JSON.parse(completion('ok'));
      answer.usage = usage;
      setTimeout(() => res.end(JSON.stringify(answer)), 100);
    });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cluster-'));
    const file = join(dir, 'switchyard.yaml');
    writeFileSync(
      file,
      `
storage: ${db.url}
redis: redis://127.0.0.1:6379
adminKey: ${ADMIN}
logging: { flushMs: 100 }
routing: { timeouts: { totalMs: 3000, firstByteMs: 2000 } }
server: { shutdownGraceMs: 500 }
providers:
  - { id: up, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }
  - { id: ptu-${RUN}, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }
  - { id: payg-${RUN}, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }
models:
  - { name: m, deployments: [{ provider: up, model: m, price: { input: 100, output: 100 } }] }
  - name: capped
    deployments:
      - { provider: ptu-${RUN}, model: m, priority: 1, rpm: 6 }
      - { provider: payg-${RUN}, model: m, priority: 2 }
keys:
  - { name: rpm-${RUN}, key: ${KEYS.rpm}, rpm: 30 }
  - { name: free-${RUN}, key: ${KEYS.free} }
  - { name: budget-${RUN}, key: ${KEYS.budget}, budget: { usd: 0.05, period: month, mode: hard } }
  - { name: survivor-${RUN}, key: ${KEYS.survivor}, budget: { usd: 0.035, period: month, mode: hard } }
`,
    );
    replicas = await Promise.all([1, 2, 3].map(() => startReplica(file)));
    proxy = await startProxy(() =>
      replicas.filter((r) => r.child.exitCode === null && !r.child.killed).map((r) => r.url),
    );
  });

  after(async () => {
    await proxy?.close();
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await up?.close();
    await db?.drop();
  });

  test('a 30-rpm key gets 30 requests a minute in total through three replicas, not 90', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push(
        assertResponse(
          await send(proxy.url, '/v1/chat/completions', chat(), { authorization: `Bearer ${KEYS.rpm}` }),
        ).status,
      );
    }
    assert.equal(statuses.filter((s) => s === 200).length, 30);
    assert.equal(statuses.filter((s) => s === 429).length, 10);
  });

  test("a deployment's rpm is counted across the replicas: the 7th request of a minute spills over, whichever replica takes it", async () => {
    const providers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = assertResponse(
        await send(
          proxy.url,
          '/v1/chat/completions',
          JSON.stringify({ model: 'capped', messages: [{ role: 'user', content: 'hi' }] }),
          {
            authorization: `Bearer ${KEYS.free}`,
          },
        ),
      );
      assert.equal(r.status, 200, r.body);
      providers.push(String(r.headers['x-switchyard-provider']));
      // Replicas refresh the shared counts every 250 ms.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.deepEqual(providers, [...Array(6).fill(`ptu-${RUN}`), ...Array(4).fill(`payg-${RUN}`)]);
  });

  test('a hard budget under 50 concurrent requests spread over the replicas: spend never exceeds it', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        send(proxy.url, '/v1/chat/completions', chat(), { authorization: `Bearer ${KEYS.budget}` }),
      ),
    );
    const served = results.map(assertResponse).filter((r) => r.status === 200).length;
    assert.ok(served >= 1, 'at least one is served');
    await new Promise((r) => setTimeout(r, 500)); // every replica flushed its records
    const rows = await db.query(
      `SELECT SUM(cost_usd) AS spent, COUNT(*) AS n FROM requests WHERE key_name = 'budget-${RUN}' AND status = 200`,
    );
    const spent = Number(rows[0]?.spent ?? 0);
    assert.equal(Number(rows[0]?.n), served);
    assert.ok(spent <= 0.05, `spent ${spent} of a $0.05 budget`);
    assert.ok(spent >= 0.0103);
  });

  test('a key revoked through one replica is refused by the others within one second', async () => {
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = JSON.parse(
      assertResponse(
        await send(replicas[0]!.url, '/admin/keys', JSON.stringify({ name: `temp-${RUN}` }), admin),
      ).body,
    );
    const auth = { authorization: `Bearer ${created.key}` };
    for (const r of replicas.slice(1)) {
      assert.equal(assertResponse(await send(r.url, '/v1/chat/completions', chat(), auth)).status, 200);
    }
    assert.equal(
      assertResponse(await send(replicas[0]!.url, `/admin/keys/${created.id}`, undefined, admin, 'DELETE'))
        .status,
      200,
    );
    const revokedAt = Date.now();
    for (const r of replicas.slice(1)) {
      for (;;) {
        const status = assertResponse(await send(r.url, '/v1/chat/completions', chat(), auth)).status;
        if (status === 401) break;
        assert.ok(Date.now() - revokedAt < 1000, `replica ${r.url} still served the revoked key after 1 s`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    assert.ok(Date.now() - revokedAt < 1000);
  });

  test('a replica killed with SIGKILL mid-stream loses no settled spend, and its reservation expires', async () => {
    const [a, , c] = replicas as [Replica, Replica, Replica];
    const auth = { authorization: `Bearer ${KEYS.survivor}` };
    // Two settled requests through the replica that will die: $0.0206 of $0.035.
    for (let i = 0; i < 2; i++)
      assert.equal(assertResponse(await send(c.url, '/v1/chat/completions', chat(), auth)).status, 200);
    await new Promise((r) => setTimeout(r, 200)); // settled (after each answer)
    // A stream through it holds a $0.0118 reservation; the replica dies mid-stream.
    const streaming = send(c.url, '/v1/chat/completions', chat(true), auth);
    await new Promise((r) => setTimeout(r, 500));
    c.child.kill('SIGKILL');
    await c.exited;
    await streaming;
    // Spent 0.0206 + the dead replica's reservation 0.0118 + this one 0.0118 > 0.035: refused.
    const held = assertResponse(await send(a.url, '/v1/chat/completions', chat(), auth));
    assert.equal(held.status, 429, 'the settled spend and the reservation survived the replica');
    assert.equal(JSON.parse(held.body).error.code, 'insufficient_quota');
    // The reservation expires (total 3 s + as long again); then 0.0206 + 0.0118 fits in 0.035.
    await new Promise((r) => setTimeout(r, 6500));
    const after = assertResponse(await send(a.url, '/v1/chat/completions', chat(), auth));
    assert.equal(after.status, 200, after.body);
  });
});

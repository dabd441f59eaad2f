/**
 * The database and the data plane. Down at start: `serve` exits 1 with a message naming the
 * store (`host:port/db`), never its password. Gone after start (a TCP proxy in front of
 * PostgreSQL is cut): requests keep being served (static keys, and API keys already looked up),
 * records are held up to logging.queueSize and then dropped, both visible in /metrics and the
 * operator log; when the database is back, the held records are written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KEY_VERSION_POLL_MS } from '../../src/identity/keys.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { gatewayFromYaml } from '../helpers/raw.ts';
import { POSTGRES } from '../helpers/services.ts';
import { createThrowawayDatabase, PG_USER, type ThrowawayDatabase } from '../state/pg-harness.ts';
import {
  ADMIN_KEY,
  admin,
  call,
  chat,
  createKey,
  expectStatus,
  metricValue,
  requestLog,
  spawnCli,
} from './harness.ts';

const STATIC_KEY = 'sk-outage-static-000001';
const PASSWORD = 'pg-Password-Never-Shown-71';

let sim: SimCloud;
let dir: string;
before(async () => {
  sim = await startSimCloud({ kind: 'openai-compatible' });
  dir = mkdtempSync(join(tmpdir(), 'switchyard-outage-'));
});
after(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

function yaml(storage: string, logging = '{}'): string {
  return `
storage: "${storage}"
adminKey: ${ADMIN_KEY}
logging: ${logging}
providers:
  - { id: vllm, type: openai-compatible, region: on-prem, endpoint: ${sim.url}/v1 }
models:
  - { name: llama, deployments: [{ provider: vllm, model: llama-3.1-8b }] }
keys:
  - { name: app, key: ${STATIC_KEY} }
`;
}

async function serveExpectingFailure(storage: string): Promise<{ code: number | null; stderr: string }> {
  const file = join(dir, `config-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, yaml(storage));
  const run = spawnCli(['serve', '--config', file, '--port', '0']);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
  const code = await run.exited;
  clearTimeout(timer);
  assert.ok(!run.stdout().includes('listening on'), 'it never accepted requests');
  return { code, stderr: run.stderr() };
}

describe('a database that is down at start', () => {
  it('PostgreSQL unreachable: serve exits 1 naming host:port/db, never the password', async () => {
    // Port 1 on the loopback refuses connections.
    const { code, stderr } = await serveExpectingFailure(
      `postgres://switchyard:${PASSWORD}@127.0.0.1:1/governance_db`,
    );
    assert.equal(code, 1, stderr);
    assert.match(stderr, /postgres store at 127\.0\.0\.1:1\/governance_db/);
    assert.ok(!stderr.includes(PASSWORD), stderr);
    assert.ok(!stderr.includes('switchyard:'), 'not the user:password part of the URL either');
  });

  it('PostgreSQL up but the database missing: exit 1 naming it', POSTGRES, async () => {
    const { code, stderr } = await serveExpectingFailure(
      `postgres://${PG_USER}:${PASSWORD}@127.0.0.1:5432/switchyard_no_such_db`,
    );
    assert.equal(code, 1, stderr);
    assert.match(stderr, /127\.0\.0\.1:5432\/switchyard_no_such_db/);
    assert.ok(!stderr.includes(PASSWORD), stderr);
  });

  it('a SQLite path that cannot be created: exit 1 naming the path', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const { code, stderr } = await serveExpectingFailure(`sqlite:${join(blocker, 'sub', 'db.sqlite')}`);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /sqlite store at .*a-file\/sub\/db\.sqlite/);
  });
});

/**
 * A TCP proxy to PostgreSQL that can be frozen (bytes held both ways), cut (every connection
 * dropped, new ones refused) and restored.
 */
class CuttableProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[client: Socket, upstream: Socket]>();
  private frozen = false;
  port = 0;

  /** Listens (on the same port as before, once it has one); a no-op while listening. */
  async start(): Promise<void> {
    this.frozen = false;
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(5432, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      for (const s of pair) {
        s.on('error', () => {});
        s.on('close', () => {
          this.pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        });
      }
      if (!this.frozen) this.pipe(pair);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private pipe([client, upstream]: [Socket, Socket]): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Connections stay open but nothing passes: a query sent now gets no answer. */
  freeze(): void {
    this.frozen = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const pair of this.pairs) for (const s of pair) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe('PostgreSQL gone after start', POSTGRES, () => {
  let db: ThrowawayDatabase;
  const proxy = new CuttableProxy();
  before(async () => {
    db = await createThrowawayDatabase();
    await proxy.start();
  });
  after(async () => {
    await proxy.cut();
    await db?.drop();
  });

  it('the data plane keeps serving; held and dropped records show in /metrics; held ones are written once it is back', async () => {
    const url = `postgres://${PG_USER}:${PASSWORD}@127.0.0.1:${proxy.port}/${db.name}`;
    const gw = await gatewayFromYaml(yaml(url, '{ queueSize: 5, batchSize: 2, flushMs: 20 }'));
    try {
      const apiKey = await createKey(gw.url, { name: 'cached' });
      // Past the key-version poller's first reading (which drops whatever was cached before it).
      await new Promise((r) => setTimeout(r, 2 * KEY_VERSION_POLL_MS));
      expectStatus(await chat(gw.url, apiKey.key, 'llama'), 200);
      const before = await requestLog(gw.url);
      assert.equal(before.length, 1);

      await proxy.cut();
      for (let i = 0; i < 6; i++)
        expectStatus(await chat(gw.url, STATIC_KEY, 'llama', `during outage ${i}`), 200);
      // A key looked up before the outage is served from the cache.
      for (let i = 0; i < 4; i++) expectStatus(await chat(gw.url, apiKey.key, 'llama'), 200);

      const metrics = expectStatus(await call(gw.url, 'GET', '/metrics'), 200).body;
      assert.equal(metricValue(metrics, 'switchyard_request_log_queue_depth'), 5, 'held up to the bound');
      assert.equal(
        metricValue(metrics, 'switchyard_request_log_dropped_total'),
        5,
        'the rest dropped and counted',
      );
      assert.ok((metricValue(metrics, 'switchyard_request_log_failed_flushes_total') ?? 0) >= 1);
      const warnings = gw.log.entries.filter((e) => e.event === 'request_log').map((e) => String(e.message));
      assert.ok(
        warnings.some((m) => /queue full \(5 records\)/.test(m)),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((m) => /writing records failed/.test(m)),
        warnings.join('\n'),
      );
      assert.ok(
        !JSON.stringify(gw.log.entries).includes(PASSWORD),
        'the operator log never holds the password',
      );

      // An admin view that needs the database says so: 503, naming the store, not the password.
      const unavailable = await admin(gw.url, 'GET', '/admin/requests');
      assert.equal(unavailable.status, 503, unavailable.body);
      assert.match(unavailable.body, new RegExp(`127\\.0\\.0\\.1:${proxy.port}/${db.name}`));
      assert.ok(!unavailable.body.includes(PASSWORD));

      await proxy.start();
      // The held records are written (the listing flushes first).
      const after = await requestLog(gw.url, '?limit=100');
      assert.equal(after.length, 1 + 5, 'the first record and the five held ones');
      const metricsAfter = expectStatus(await call(gw.url, 'GET', '/metrics'), 200).body;
      assert.equal(metricValue(metricsAfter, 'switchyard_request_log_queue_depth'), 0);
      assert.equal(metricValue(metricsAfter, 'switchyard_request_log_written_total'), 6);
    } finally {
      await gw.gateway.shutdown(0);
    }
  });

  it('a connection dying in the middle of a write fails the write, it does not crash the gateway', async () => {
    await proxy.start();
    const url = `postgres://${PG_USER}:${PASSWORD}@127.0.0.1:${proxy.port}/${db.name}`;
    const gw = await gatewayFromYaml(yaml(url, '{ flushMs: 600000, batchSize: 1000 }'));
    try {
      expectStatus(await chat(gw.url, STATIC_KEY, 'llama'), 200);
      // A pooled connection is idle and ready: the write below takes it.
      expectStatus(await admin(gw.url, 'GET', '/admin/keys'), 200);
      proxy.freeze();
      const write = gw.gateway.runtime.requestLog.flush().then(
        () => 'written',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      // The write's BEGIN is on the wire, unanswered; now its connection dies.
      await new Promise((r) => setTimeout(r, 100));
      await proxy.cut();
      assert.match(
        await write,
        /^postgres store at 127\.0\.0\.1:\d+\/switchyard_test_\w+: Connection terminated/,
      );
      // Still serving, the record still held.
      expectStatus(await chat(gw.url, STATIC_KEY, 'llama'), 200);
      assert.equal(gw.gateway.runtime.requestLog.stats.queued, 2);
      await proxy.start();
      expectStatus(await admin(gw.url, 'GET', '/admin/requests'), 200);
      assert.equal(gw.gateway.runtime.requestLog.stats.written, 2);
    } finally {
      await proxy.start();
      await gw.gateway.shutdown(0);
    }
  });

  it('a shutdown while the database is away still stops the gateway and says how many records were lost', async () => {
    await proxy.start();
    const url = `postgres://${PG_USER}:${PASSWORD}@127.0.0.1:${proxy.port}/${db.name}`;
    const gw = await gatewayFromYaml(yaml(url, '{ flushMs: 600000, batchSize: 1000 }'));
    expectStatus(await chat(gw.url, STATIC_KEY, 'llama'), 200);
    await proxy.cut();
    const outcome = await gw.gateway.shutdown(0).then(
      () => 'stopped',
      (err: unknown) => `rejected: ${err instanceof Error ? err.message : String(err)}`,
    );
    if (outcome !== 'stopped') {
      // What the failed shutdown left open, so this test process can end.
      await gw.gateway.runtime.transport.close();
      await gw.gateway.runtime.store.close();
    }
    assert.equal(outcome, 'stopped');
    const lost = gw.log.entries.find((e) => /1 request record/.test(JSON.stringify(e)));
    assert.ok(lost, 'the operator log says a record could not be written');
    assert.ok(!JSON.stringify(gw.log.entries).includes(PASSWORD));
  });
});

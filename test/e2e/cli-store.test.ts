/**
 * `switchyard keys` and `switchyard usage` as an operator runs them: bin/switchyard.js over the
 * built dist/ (npm test builds first), against a configuration whose storage is a temporary
 * SQLite file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashKey } from '../../src/identity/keys.ts';
import { openStore } from '../../src/state/open.ts';
import { makeRecord } from '../state/fixtures.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-store-'));
const dbFile = join(dir, 'data', 'switchyard.db');
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, storage: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `storage: ${storage}
providers:
  - { id: local, type: openai-compatible, region: on-prem, endpoint: "http://127.0.0.1:9/v1" }
models:
  - name: gpt-5
    deployments: [{ provider: local, model: gpt-5-local }]
  - name: small
    deployments: [{ provider: local, model: small-local }]
teams:
  - name: research
keys:
  - { name: static-app, key: sk-static-app-0123456789 }
`,
  );
  return file;
}

// Relative to the configuration file's folder, as `serve` reads it.
const config = writeConfig('switchyard.yaml', 'sqlite:./data/switchyard.db');

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The database file and its write-ahead log, as text. */
function rawDatabase(): string {
  return [dbFile, `${dbFile}-wal`]
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

describe('switchyard keys and usage against a SQLite store', () => {
  let created: { id: string; key: string };

  before(() => {
    const result = run(
      'keys',
      'create',
      '--config',
      config,
      '--name',
      'research-bot',
      '--team',
      'research',
      '--models',
      'gpt-5,small',
      '--rpm',
      '60',
      '--tpm',
      '100000',
      '--budget-usd',
      '25',
      '--budget-period',
      'week',
      '--budget-mode',
      'soft',
      '--expires-at',
      '2099-01-01',
    );
    assert.equal(result.code, 0, result.stderr);
    const id = /^id:\s+(key_[0-9a-f]+)$/m.exec(result.stdout)?.[1];
    const key = /^key:\s+(sk-sy-[A-Za-z0-9_-]{43})$/m.exec(result.stdout)?.[1];
    assert.ok(id && key, result.stdout);
    assert.match(result.stderr, /only time the key is shown/);
    created = { id, key };
  });

  it('keys create stores the key with its limits; only its hash reaches the file', async () => {
    const store = await openStore(`sqlite:${dbFile}`);
    try {
      const stored = await store.getKey(created.id);
      assert.deepEqual(
        { ...stored, createdAtMs: 0 },
        {
          id: created.id,
          name: 'research-bot',
          keyHash: hashKey(created.key),
          keyPrefix: created.key.slice(0, 10),
          team: 'research',
          models: ['gpt-5', 'small'],
          rpm: 60,
          tpm: 100_000,
          budget: { usd: 25, period: 'week', mode: 'soft' },
          boundary: null,
          createdAtMs: 0,
          expiresAtMs: Date.UTC(2099, 0, 1),
          revokedAtMs: null,
        },
      );
    } finally {
      await store.close();
    }
    const raw = rawDatabase();
    assert.ok(raw.includes(hashKey(created.key)), 'the hash is in the file');
    assert.equal(raw.includes(created.key), false, 'the plaintext key is in the database file');
    assert.equal(
      raw.includes(created.key.slice(10)),
      false,
      'the secret part of the key is in the database file',
    );
  });

  it('keys list shows id, name, prefix and team, never the hash or the plaintext', () => {
    const result = run('keys', 'list', '--config', config);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ID\s+NAME\s+PREFIX\s+TEAM\s+CREATED\s+EXPIRES\s+REVOKED$/m);
    const line = result.stdout.split('\n').find((l) => l.startsWith(created.id)) ?? '';
    assert.match(
      line,
      /research-bot\s+sk-sy-\S{4}\s+research\s+\d{4}-\d\d-\d\dT\S+Z\s+2099-01-01T00:00:00Z\s+-$/,
    );
    assert.equal(result.stdout.includes(created.key), false);
    assert.equal(result.stdout.includes(hashKey(created.key)), false);
  });

  it('keys create refuses unknown teams and models, taken names and bad flags', () => {
    // One case per rule; the flag parsers' details are unit-tested (test/unit/cli-flags.test.ts).
    const refused = [
      { args: ['--name', 'x', '--team', 'nobody'], code: 2, message: /--team: no team named "nobody"/ },
      {
        args: ['--name', 'x', '--models', 'gpt-5,nope'],
        code: 2,
        message: /--models: no model named "nope"/,
      },
      { args: ['--name', 'static-app'], code: 2, message: /static key in the configuration/ },
      { args: ['--name', 'x', '--budget-period', 'month'], code: 2, message: /need --budget-usd/ },
      {
        args: ['--name', 'x', '--expires-at', '2001-01-01'],
        code: 2,
        message: /--expires-at: .* has passed/,
      },
      { args: ['--name', 'x', '--bogus'], code: 2, message: /Unknown option '--bogus'/ },
      { args: ['--name', 'research-bot'], code: 1, message: /a key named "research-bot" already exists/ },
    ];
    for (const { args, code, message } of refused) {
      const result = run('keys', 'create', '--config', config, ...args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
    }
  });

  it('usage prints the request log grouped, as a table, CSV or JSON', async () => {
    const store = await openStore(`sqlite:${dbFile}`);
    try {
      const at = Date.UTC(2026, 2, 10, 12);
      await store.insertRequests([
        makeRecord({
          startedAtMs: at,
          keyId: created.id,
          keyName: 'research-bot',
          team: 'research',
          inputTokens: 100,
          outputTokens: 10,
          costUsd: 0.5,
        }),
        makeRecord({
          startedAtMs: at + 1,
          keyId: created.id,
          keyName: 'research-bot',
          team: 'research',
          inputTokens: 50,
          outputTokens: 5,
          costUsd: null,
        }),
        makeRecord({
          startedAtMs: at + 2,
          keyId: 'static:static-app',
          keyName: 'static-app',
          team: null,
          inputTokens: 7,
          outputTokens: 3,
          costUsd: 2,
        }),
        makeRecord({ startedAtMs: Date.UTC(2026, 3, 1), keyName: 'research-bot', costUsd: 100 }), // April: outside
      ]);
    } finally {
      await store.close();
    }
    const range = ['--from', '2026-03-01', '--to', '2026-04-01'];

    const json = run('usage', '--config', config, ...range, '--format', 'json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      groupBy: 'key',
      from: '2026-03-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      rows: [
        {
          group: 'static-app',
          requests: 1,
          inputTokens: 7,
          outputTokens: 3,
          costUsd: 2,
          unpricedRequests: 0,
        },
        {
          group: 'research-bot',
          requests: 2,
          inputTokens: 150,
          outputTokens: 15,
          costUsd: 0.5,
          unpricedRequests: 1,
        },
      ],
    });

    const csv = run('usage', '--config', config, ...range, '--group-by', 'team', '--format', 'csv');
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(
      csv.stdout,
      'group,requests,inputTokens,outputTokens,costUsd,unpricedRequests\n(none),1,7,3,2,0\nresearch,2,150,15,0.5,1\n',
    );

    const table = run('usage', '--config', config, ...range, '--group-by', 'team');
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^Usage by team, 2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z \(sqlite store\)$/m,
    );
    assert.match(table.stdout, /^TEAM\s+REQUESTS\s+INPUT TOKENS\s+OUTPUT TOKENS\s+COST USD\s+UNPRICED$/m);
    assert.match(table.stdout, /^research\s+2\s+150\s+15\s+0\.5000\s+1$/m);
    assert.match(table.stdout, /^TOTAL\s+3\s+157\s+18\s+2\.5000\s+1$/m);
    assert.match(table.stdout, /1 requests have no price/);

    for (const args of [
      ['--group-by', 'region'],
      ['--format', 'xml'],
      ['--from', 'yesterday'],
      ['--from', '2026-04-01', '--to', '2026-03-01'],
    ]) {
      const refused = run('usage', '--config', config, ...args);
      assert.equal(refused.code, 2, args.join(' '));
      assert.match(refused.stderr, /^switchyard usage: --/, args.join(' '));
    }
  });

  it('keys revoke marks the key revoked once; an unknown id is an error', () => {
    const revoked = run('keys', 'revoke', '--config', config, created.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${created.id} \\(research-bot\\) at \\S+Z$`, 'm'));
    const line = run('keys', 'list', '--config', config)
      .stdout.split('\n')
      .find((l) => l.startsWith(created.id));
    assert.match(line ?? '', /\d{4}-\d\d-\d\dT\S+Z$/);
    assert.doesNotMatch(line ?? '', /\s-$/);

    const again = run('keys', 'revoke', '--config', config, created.id);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already revoked at/);

    const unknown = run('keys', 'revoke', '--config', config, 'key_000000000000000000000000');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no key with id "key_000000000000000000000000"/);
    assert.equal(run('keys', 'revoke', '--config', config).code, 2);
    assert.equal(run('keys', 'revoke', '--config', config, 'static:static-app').code, 2);
  });

  it('refuses a memory store, which holds nothing another process could read', () => {
    const memory = writeConfig('memory.yaml', 'memory');
    for (const args of [
      ['keys', 'list', '--config', memory],
      ['usage', '--config', memory],
    ]) {
      const result = run(...args);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, /storage is memory/);
    }
  });

  it('a store that cannot be reached is a runtime error naming it, without the password', () => {
    const down = writeConfig('down.yaml', 'postgres://ops:pa55word-xyz@127.0.0.1:1/switchyard');
    const result = run('keys', 'list', '--config', down);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /postgres store at 127\.0\.0\.1:1\/switchyard/);
    assert.equal(result.stderr.includes('pa55word-xyz'), false);
  });

  it('--help on keys and usage, exit 0; no subcommand is a usage error', () => {
    for (const command of ['keys', 'usage']) {
      const help = run(command, '--help');
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: switchyard /);
    }
    const bare = run('keys');
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /expected a subcommand: create, list or revoke/);
  });
});

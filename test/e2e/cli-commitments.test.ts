/** `switchyard usage --commitments` reads the same burn-down as GET /admin/commitments. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { startGateway } from '../../src/server/http.ts';
import { memoryLogger } from '../../src/telemetry/log.ts';
import { assertResponse, completion, send, startUpstream } from '../helpers/raw.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');

test('usage --commitments prints each commitment: committed, used, remaining, projected', async () => {
  const up = await startUpstream((_req, res) => {
    const body = JSON.parse(completion('ok'));
    body.usage = { prompt_tokens: 3, completion_tokens: 100, total_tokens: 103 };
    res.end(JSON.stringify(body));
  });
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-commit-'));
  const file = join(dir, 'switchyard.yaml');
  const yaml = `
storage: sqlite:./switchyard.db
providers:
  - { id: ptu, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1, commitment: { usd: 10, period: month } }
  - { id: other, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }
models: [{ name: m, deployments: [{ provider: ptu, model: m, price: { input: 100, output: 100 } }] }]
keys: [{ name: app, key: sk-commit-cli-0001 }]
`;
  writeFileSync(file, yaml);
  const gateway = await startGateway(parseConfigText(yaml, file, {}), {
    port: 0,
    host: '127.0.0.1',
    log: memoryLogger(),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await send(
        gateway.url,
        '/v1/chat/completions',
        JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
        {
          authorization: 'Bearer sk-commit-cli-0001',
        },
      );
      assert.equal(assertResponse(r).status, 200);
    }
  } finally {
    await gateway.shutdown(0); // flushes the request log
    await up.close();
  }
  const run = spawnSync(
    process.execPath,
    [BIN, 'usage', '--config', file, '--commitments', '--format', 'json'],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const { data } = JSON.parse(run.stdout);
  assert.equal(data.length, 1);
  assert.equal(data[0].provider, 'ptu');
  assert.equal(data[0].committed, 10);
  assert.ok(Math.abs(data[0].used - 3 * 0.0103) < 1e-9, `used ${data[0].used}`);
  assert.ok(Math.abs(data[0].remaining - (10 - 3 * 0.0103)) < 1e-9);
  assert.ok(data[0].projected >= data[0].used);
  const table = spawnSync(process.execPath, [BIN, 'usage', '--config', file, '--commitments'], {
    encoding: 'utf8',
  });
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^PROVIDER\s+KIND\s+PERIOD\s+COMMITTED\s+USED\s+REMAINING\s+PROJECTED/m);
  assert.match(table.stdout, /ptu\s+spend\s+\d{4}-\d{2}\s+\$10\.00\s+\$0\.03/);
});

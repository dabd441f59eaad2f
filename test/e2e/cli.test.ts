import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';

/** The CLI as users run it: bin/switchyard.js over the built dist/ (npm test builds first). */
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function run(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exit: Promise<number | null>;
}

/** Starts a long-running command and waits for its `listening on` line. */
async function start(args: string[], cwd?: string): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  children.add(child);
  let output = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    void exit.then(() => reject(new Error(`exited before listening:\n${output}`)));
  });
  return { child, url, output: () => output, exit };
}

function tempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** A `serve` config: one OpenAI deployment on `sim` and the key sk-cli-test-0001; `extra` goes first. */
function serveConfig(sim: SimCloud, extra = ''): string {
  return tempConfig(`${extra}
providers: [{ id: oa, type: openai, endpoint: ${sim.url}/v1, apiKey: sk-up }]
models: [{ name: m, deployments: [{ provider: oa, model: gpt-5 }] }]
keys: [{ name: app, key: sk-cli-test-0001 }]
`);
}

describe('switchyard CLI', () => {
  test('--help on every command, exit 0', () => {
    for (const args of [['--help'], ['serve', '--help'], ['demo', '--help'], ['check', '--help']]) {
      const result = run(args);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /Usage: switchyard/);
    }
  });

  test('usage errors exit 2', () => {
    assert.equal(run([]).code, 2);
    const unknown = run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const noConfig = run(['serve']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config FILE is required/);
    assert.equal(run(['serve', '--config', 'x.yaml', '--port', 'abc']).code, 2);
    assert.equal(run(['check', '--bogus']).code, 2);
  });

  test('check: ok exits 0; every problem listed with its path, exit 1, no secret echoed', () => {
    const ok = tempConfig(`
providers: [{ id: oa, type: openai, apiKey: sk-secret-value-1 }]
models: [{ name: m, deployments: [{ provider: oa, model: gpt-5 }] }]
`);
    const good = run(['check', '--config', ok]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /ok \(1 providers, 1 models, 0 keys\)/);
    const bad = tempConfig(`
providers:
  - { id: oa, type: azure, apiKey: sk-secret-value-2 }
  - { id: ob, type: openai, apiKye: sk-secret-value-3 }
models: [{ name: m, deployments: [{ provider: oc, model: gpt-5 }] }]
`);
    const result = run(['check', '--config', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /providers\[0\]\.type \(line 3\): expected one of openai \| azure-openai/);
    assert.match(result.stderr, /providers\[1\]\.apiKye \(line 4\): unknown key; did you mean "apiKey"\?/);
    assert.match(result.stderr, /models\[0\]\.deployments\[0\]\.provider/);
    assert.ok(!/sk-secret-value/.test(result.stderr + result.stdout));
    assert.equal(run(['check', '--config', '/nonexistent/switchyard.yaml']).code, 1);
  });

  test('a SIGTERM sent the instant "listening on" is written drains and exits 0 (the handler is in place before the line)', async () => {
    const sim: SimCloud = await startSimCloud({ kind: 'openai', apiKeys: ['sk-up'] });
    try {
      const config = serveConfig(sim);
      // A supervisor at its fastest: the process signals itself in the same write that announces it.
      const preload = join(mkdtempSync(join(tmpdir(), 'switchyard-cli-')), 'term-on-listening.mjs');
      writeFileSync(
        preload,
        `const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const done = write(chunk, ...rest);
  if (String(chunk).startsWith('listening on')) process.kill(process.pid, 'SIGTERM');
  return done;
};
`,
      );
      const child = spawn(
        process.execPath,
        [`--import=${pathToFileURL(preload).href}`, BIN, 'serve', '--config', config, '--port', '0'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.add(child);
      let output = '';
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('exit', (c, s) => resolve([c, s])),
      );
      assert.equal(signal, null, `killed by ${signal} before it could drain; output: ${output}`);
      assert.equal(code, 0);
      assert.match(output, /SIGTERM received: draining in-flight requests/);
    } finally {
      await sim.close();
    }
  });

  test('serve whose stdout reader has gone (a log pipe that died) still drains and exits 0 on SIGTERM', async () => {
    const sim: SimCloud = await startSimCloud({ kind: 'openai', apiKeys: ['sk-up'] });
    try {
      const config = serveConfig(sim);
      const server = await start(['serve', '--config', config, '--port', '0', '--host', '127.0.0.1']);
      // The reading end closes: the gateway's next line to stdout meets a broken pipe (EPIPE).
      server.child.stdout?.destroy();
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0, `exit code; stderr: ${server.output()}`);
      assert.doesNotMatch(server.output(), /EPIPE/);
    } finally {
      await sim.close();
    }
  });

  test('serve --port 0 prints the listening line; SIGTERM lets an in-flight stream finish, then exits 0', async () => {
    const sim: SimCloud = await startSimCloud({ kind: 'openai', apiKeys: ['sk-up'], tokensPerSecond: 50 });
    try {
      const config = serveConfig(sim, 'server: { shutdownGraceMs: 10000 }');
      const server = await start(['serve', '--config', config, '--port', '0', '--host', '127.0.0.1']);
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-cli-test-0001', maxRetries: 0 });
      // About 20 words at 50 tokens/s: the stream is still running when SIGTERM arrives.
      const stream = await client.chat.completions.create({
        model: 'm',
        stream: true,
        messages: [{ role: 'user', content: '[sim:words=20]' }],
      });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.equal(first.done, false);
      server.child.kill('SIGTERM');
      let words = '';
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        words += next.value.choices[0]?.delta.content ?? '';
      }
      assert.equal(words.trim().split(/\s+/).length, 20, 'the in-flight stream completed');
      assert.equal(await server.exit, 0);
      assert.match(server.output(), /SIGTERM received: draining/);
      await assert.rejects(fetch(`${server.url}/healthz`), 'no longer accepting');
    } finally {
      await sim.close();
    }
  });

  test('demo: simulated clouds and a gateway; Azure first, OpenAI when Azure fails', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    const demo = await start(['demo', '--port', '0'], cwd);
    try {
      const output = demo.output();
      const key = /(sk-demo-app-\w+)/.exec(output)?.[1];
      const azure = /simulated Azure OpenAI\s+(http:\/\/\S+)/.exec(output)?.[1];
      assert.ok(key && azure, output);
      const client = new OpenAI({ baseURL: `${demo.url}/v1`, apiKey: key, maxRetries: 0 });
      const first = await client.chat.completions
        .create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(first.response.headers.get('x-switchyard-provider'), 'azure-eastus');
      const fault = await fetch(`${azure}/_sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ faults: [{ kind: 'status', status: 503, times: 'always' }] }),
      });
      assert.equal(fault.status < 300, true);
      const second = await client.chat.completions
        .create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(second.response.headers.get('x-switchyard-provider'), 'openai');
      assert.match(second.data.choices[0]?.message.content ?? '', /simulated OpenAI/);
      // Every other cloud of the demo answers in its own protocol.
      for (const [model, provider] of [
        ['claude-sonnet-4-5', 'anthropic'],
        ['gemini-2.5-flash', 'gemini'],
        ['llama-3.1-8b', 'local-vllm'],
      ] as const) {
        const reply = await client.chat.completions
          .create({ model, messages: [{ role: 'user', content: 'hi' }] })
          .withResponse();
        assert.equal(reply.response.headers.get('x-switchyard-provider'), provider, model);
        assert.match(reply.data.choices[0]?.message.content ?? '', /You said: hi$/, model);
      }
      // Cross-cloud failover, each cloud's native error classified: Anthropic overloaded (529) →
      // the same model on Bedrock; Gemini throttled (RESOURCE_EXHAUSTED) → Vertex AI.
      for (const [label, model, fault, fallback] of [
        ['Anthropic', 'claude-sonnet-4-5', { kind: 'status', status: 503 }, 'bedrock-us-east-1'],
        ['Gemini API', 'gemini-2.5-flash', { kind: 'status', status: 429 }, 'vertex-europe-west4'],
      ] as const) {
        const sim = new RegExp(`simulated ${label}\\s+(http://\\S+)`).exec(output)?.[1];
        assert.ok(sim, label);
        await fetch(`${sim}/_sim/faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ faults: [fault] }),
        });
        const reply = await client.chat.completions
          .create({ model, messages: [{ role: 'user', content: 'hi' }] })
          .withResponse();
        assert.equal(reply.response.headers.get('x-switchyard-provider'), fallback, model);
        assert.equal(reply.response.headers.get('x-switchyard-attempts'), '2', model);
      }
      // The research key's team keeps it inside Europe: the global Gemini API is out of bounds.
      const research = /(sk-demo-research-\w+)/.exec(output)?.[1];
      const adminKey = /(sk-demo-admin-\w+)/.exec(output)?.[1];
      assert.ok(research && adminKey, output);
      const inEurope = await new OpenAI({
        baseURL: `${demo.url}/v1`,
        apiKey: research,
        maxRetries: 0,
      }).chat.completions
        .create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(inEurope.response.headers.get('x-switchyard-provider'), 'vertex-europe-west4');
      const records = await fetch(`${demo.url}/admin/requests?limit=1`, {
        headers: { authorization: `Bearer ${adminKey}` },
      });
      const [latest] = ((await records.json()) as { data: Array<{ keyName: string; boundary: string }> })
        .data;
      assert.equal(latest?.keyName, 'demo-research');
      assert.match(latest?.boundary ?? '', /regions=europe-\*/);
    } finally {
      demo.child.kill('SIGTERM');
      assert.equal(await demo.exit, 0);
    }
  });
});

/**
 * Resilience against real upstreams: hedging (first output wins, the loser's connection is closed
 * at once), the circuit breaker on a failure rate, retry of a briefly throttled deployment.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunkFrame, completion, startUpstream, type Upstream, waitFor } from '../helpers/raw.ts';
import {
  type ChatResult,
  chat,
  cloudProvider,
  deployment,
  deploymentRow,
  explain,
  gatewayYaml,
  inferenceRequests,
  rawProvider,
  recordOf,
  simText,
  startClouds,
  startRig,
  UPSTREAM_MODEL,
} from './harness.ts';

/** An upstream that answers only after `ms` (headers included), unless its client leaves first. */
function slowUpstream(ms: number): Promise<Upstream> {
  return startUpstream((_req, res) => {
    const timer = setTimeout(() => {
      if (res.destroyed) return;
      res.end(completion('the slow primary'));
    }, ms);
    res.on('close', () => clearTimeout(timer));
  });
}

/** A streaming upstream whose headers come at once and whose first event comes only after `ms`. */
function silentStreamUpstream(ms: number): Promise<Upstream> {
  return startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    const timer = setTimeout(() => {
      if (res.destroyed) return;
      res.end(
        `${chunkFrame({ role: 'assistant', content: 'the slow primary' })}${chunkFrame({}, 'stop')}data: [DONE]\n\n`,
      );
    }, ms);
    res.on('close', () => clearTimeout(timer));
  });
}

const HEDGED_MODEL = `  - name: m
    hedge: { afterMs: 200 }
    deployments:
${deployment('primary', 'priority: 1')}
${deployment('secondary', 'priority: 2')}`;

describe('hedging', () => {
  for (const stream of [false, true]) {
    test(`${stream ? 'stream' : 'non-streaming'}: a slow primary loses to the hedge; the client gets the secondary's answer and the primary's connection is closed right after`, async () => {
      const primary = await (stream ? silentStreamUpstream(3000) : slowUpstream(3000));
      const clouds = await startClouds(['secondary']);
      const rig = await startRig(
        clouds,
        gatewayYaml({
          providers: [rawProvider('primary', primary), cloudProvider(clouds[0]!)],
          models: HEDGED_MODEL,
        }),
        [primary],
      );
      try {
        const r = await chat(rig.url, 'hedge me', { stream });
        assert.equal(r.status, 200, r.body);
        assert.equal(r.provider, 'secondary');
        assert.equal(
          r.text,
          simText('secondary', 'hedge me'),
          "exactly the winner's text, nothing of the loser",
        );
        assert.equal(r.headers['x-switchyard-attempts'], '2');
        assert.equal(primary.requests, 1);
        assert.ok(
          await waitFor(() => primary.socketClosedAt.length > 0, 2000),
          "the loser's upstream connection was never closed",
        );
        const closedAfterMs = primary.socketClosedAt[0]! - r.endedAt;
        assert.ok(closedAfterMs <= 250, `the loser's connection closed ${closedAfterMs} ms after the answer`);
        const record = await recordOf(rig.url, r);
        assert.deepEqual(
          record.attempts.map((a) => [a.provider, a.outcome, a.hedge === true, a.reason]),
          [
            ['primary', 'aborted', false, `hedge: lost to secondary/${UPSTREAM_MODEL} (chosen: priority 1)`],
            ['secondary', 'ok', true, 'hedge: no first output after 200 ms'],
          ],
          explain(record.attempts),
        );
        assert.equal(record.provider, 'secondary');
      } finally {
        await rig.close();
      }
    });
  }

  test('a primary that answers before afterMs is never hedged', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: HEDGED_MODEL }),
    );
    try {
      for (let i = 0; i < 5; i++) {
        const r = await chat(rig.url, `quick ${i}`, { stream: i % 2 === 1 });
        assert.equal(r.provider, 'primary');
      }
      assert.equal(inferenceRequests(clouds[1]!), 0);
    } finally {
      await rig.close();
    }
  });
});

const BREAKER_ROUTING = `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 15000 }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 0 }
  circuitBreaker: { failureThreshold: 100, failureRatePercent: 50, minimumRequests: 10, windowMs: 60000, cooldownMs: 60000 }`;

const PRIORITY_MODEL = `  - name: m
    deployments:
${deployment('primary', 'priority: 1')}
${deployment('secondary', 'priority: 2')}`;

describe('hedges and the retry budget', () => {
  test('hedges count against the retry budget: with budgetPercent 0 only its floor of 10 hedges a window start', async () => {
    const clouds = await startClouds(['primary', 'secondary'], { primary: { latencyMs: 400 } });
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        routing: `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 15000 }
  retry: { maxAttempts: 3, budgetPercent: 0, backoffMs: 0 }`,
        models: HEDGED_MODEL.replace('afterMs: 200', 'afterMs: 20'),
      }),
    );
    try {
      const results: ChatResult[] = [];
      for (let i = 0; i < 12; i++) results.push(await chat(rig.url, `budget ${i}`));
      assert.deepEqual(
        results.map((r) => r.provider),
        [...Array(10).fill('secondary'), 'primary', 'primary'],
        'ten hedges won, then no budget left for an eleventh',
      );
      const record = await recordOf(rig.url, results[10]!);
      assert.deepEqual(
        record.attempts.map((a) => [a.provider, a.outcome, a.reason]),
        [
          ['secondary', 'skipped', 'skipped: retry budget exhausted'],
          ['primary', 'ok', 'chosen: priority 1'],
        ],
      );
    } finally {
      await rig.close();
    }
  });
});

describe('never after the first byte', () => {
  test('a stream that breaks after its first output ends with an error event; nothing is retried', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    clouds[0]!.sim.addFaults([{ kind: 'stream_error', afterChunks: 3 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL }),
    );
    try {
      const r = await chat(rig.url, 'break after three', { stream: true });
      assert.equal(r.status, 200);
      assert.equal(r.provider, 'primary');
      assert.ok(r.text.length > 0 && simText('primary', 'break after three').startsWith(r.text), r.text);
      assert.ok(r.streamError?.includes('upstream_stream_failed'), r.streamError);
      assert.equal(inferenceRequests(clouds[1]!), 0, 'the secondary was never asked');
    } finally {
      await rig.close();
    }
  });
});

describe('circuit breaker', () => {
  test('opens on a 50% failure rate while failures alternate with successes; /admin/deployments shows circuit: open', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const [primary] = clouds as [(typeof clouds)[0]];
    // Success, failure, success, failure, ...: never two failures in a row. A 0 ms delay is a no-op fault.
    primary.sim.addFaults(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? { kind: 'delay' as const, ms: 0 } : { kind: 'status' as const, status: 500 },
      ),
    );
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL, routing: BREAKER_ROUTING }),
    );
    try {
      const results: ChatResult[] = [];
      for (let i = 0; i < 9; i++) results.push(await chat(rig.url, `rate ${i}`));
      assert.equal(
        (await deploymentRow(rig.url, 'primary')).circuit,
        'closed',
        '9 outcomes: below minimumRequests',
      );
      results.push(await chat(rig.url, 'rate 9'));
      // The 10th outcome is the 5th failure: 5 of 10 is 50%.
      const row = await deploymentRow(rig.url, 'primary');
      assert.equal(row.circuit, 'open');
      assert.ok(row.circuitRetryAt !== null);
      for (const r of results) {
        assert.equal(r.status, 200, 'every failure failed over invisibly');
        assert.equal(r.text, simText(r.provider, `rate ${results.indexOf(r)}`));
      }
      assert.equal(inferenceRequests(primary), 10);
      const after = await chat(rig.url, 'after the trip');
      assert.equal(after.provider, 'secondary');
      assert.equal(inferenceRequests(primary), 10, 'an open circuit sends nothing to the primary');
      const record = await recordOf(rig.url, after);
      assert.deepEqual(
        record.attempts.map((a) => [a.provider, a.outcome, a.reason]),
        [
          ['primary', 'skipped', 'skipped: circuit open'],
          ['secondary', 'ok', 'chosen: priority 2'],
        ],
      );
    } finally {
      await rig.close();
    }
  });

  test('a success of an attempt started before the circuit opened does not close it', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const [primary] = clouds as [(typeof clouds)[0]];
    const routing = BREAKER_ROUTING.replace('failureThreshold: 100', 'failureThreshold: 2');
    primary.sim.addFaults([
      { kind: 'delay', ms: 600 },
      { kind: 'status', status: 500 },
      { kind: 'status', status: 500 },
    ]);
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL, routing }),
    );
    try {
      const long = chat(rig.url, 'long, started while healthy');
      assert.ok(
        await waitFor(() => inferenceRequests(primary) === 1),
        'the long request reached the primary',
      );
      for (const content of ['fails 1', 'fails 2'])
        assert.equal((await chat(rig.url, content)).provider, 'secondary');
      assert.equal(
        (await deploymentRow(rig.url, 'primary')).circuit,
        'open',
        'two failures in a row opened it',
      );
      const longResult = await long;
      assert.equal(longResult.provider, 'primary');
      assert.equal(
        (await deploymentRow(rig.url, 'primary')).circuit,
        'open',
        'the late success of a request admitted before the trip closed the circuit',
      );
      assert.equal((await chat(rig.url, 'next')).provider, 'secondary');
    } finally {
      await rig.close();
    }
  });
});

describe('circuit breaker: half-open', () => {
  test('after the cooldown one probe goes to the primary; its success closes the circuit', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const [primary] = clouds as [(typeof clouds)[0]];
    primary.sim.addFaults([{ kind: 'status', status: 500, times: 2 }]);
    const routing = BREAKER_ROUTING.replace('failureThreshold: 100', 'failureThreshold: 2').replace(
      'cooldownMs: 60000',
      'cooldownMs: 1000',
    );
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL, routing }),
    );
    try {
      for (const content of ['a', 'b']) assert.equal((await chat(rig.url, content)).provider, 'secondary');
      assert.equal((await deploymentRow(rig.url, 'primary')).circuit, 'open');
      await sleep(1050);
      assert.equal((await deploymentRow(rig.url, 'primary')).circuit, 'half-open');
      const probe = await chat(rig.url, 'probe');
      assert.equal(probe.provider, 'primary', 'the probe went to the primary');
      assert.equal((await deploymentRow(rig.url, 'primary')).circuit, 'closed');
      assert.equal(inferenceRequests(primary), 3);
    } finally {
      await rig.close();
    }
  });
});

describe('retry after a throttle', () => {
  test('a lone deployment answering 429 with retry-after 300 ms is waited for and retried within the deadline', async () => {
    const clouds = await startClouds(['solo']);
    clouds[0]!.sim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 300 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    deployments:
${deployment('solo')}`,
        routing: `
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: 15000 }
  retry: { maxAttempts: 3, budgetPercent: 100, backoffMs: 50, maxThrottleWaitMs: 2000 }`,
      }),
    );
    try {
      const started = Date.now();
      const r = await chat(rig.url, 'throttled once');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.text, simText('solo', 'throttled once'));
      assert.ok(r.endedAt - started >= 300, 'the retry-after was honoured');
      const record = await recordOf(rig.url, r);
      assert.equal(record.attempts.length, 2, explain(record.attempts));
      assert.equal(record.attempts[0]?.outcome, 'failed');
      assert.equal(record.attempts[0]?.status, 429);
      assert.match(record.attempts[0]?.reason ?? '', /^throttled: retry-after 300ms/);
      assert.match(record.attempts[1]?.reason ?? '', /^retry after throttle: waited \d+ ms$/);
      assert.equal(record.attempts[1]?.outcome, 'ok');
    } finally {
      await rig.close();
    }
  });

  test('a throttle longer than maxThrottleWaitMs goes back to the client as 429 with retry-after, at once', async () => {
    const clouds = await startClouds(['solo']);
    clouds[0]!.sim.addFaults([{ kind: 'status', status: 429, retryAfterMs: 5000 }]);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    deployments:
${deployment('solo')}`,
      }),
    );
    try {
      const r = await chat(rig.url, 'throttled long');
      assert.equal(r.status, 429, r.body);
      assert.equal(r.headers['retry-after'], '5');
      assert.equal(inferenceRequests(clouds[0]!), 1);
    } finally {
      await rig.close();
    }
  });
});

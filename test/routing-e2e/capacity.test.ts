/**
 * Capacity: spill over before the cloud refuses. A configured `rpm` used up over the sliding
 * minute, and a cloud's own remaining-requests header at 0, both move traffic to the secondary
 * before the primary ever answers 429, and the request record says why.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ChatResult,
  chat,
  cloudProvider,
  deployment,
  deploymentRow,
  explain,
  gatewayYaml,
  inferenceRequests,
  recordOf,
  simText,
  startClouds,
  startRig,
} from './harness.ts';

const PRIORITY_MODEL = (primaryFields: string) => `  - name: m
    deployments:
${deployment('primary', `priority: 1${primaryFields ? `, ${primaryFields}` : ''}`)}
${deployment('secondary', 'priority: 2')}`;

describe('configured rpm', () => {
  test('rpm 5 on the primary: requests 6+ of the minute go to the secondary, `skipped: rpm 5/5` in the record', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL('rpm: 5') }),
    );
    try {
      const results: ChatResult[] = [];
      for (let i = 1; i <= 8; i++) {
        const r = await chat(rig.url, `rpm ${i}`);
        assert.equal(r.status, 200, r.body);
        assert.equal(r.text, simText(r.provider, `rpm ${i}`));
        results.push(r);
      }
      assert.deepEqual(
        results.map((r) => r.provider),
        ['primary', 'primary', 'primary', 'primary', 'primary', 'secondary', 'secondary', 'secondary'],
      );
      assert.equal(inferenceRequests(clouds[0]!), 5, 'the primary got exactly its 5 a minute');
      for (const r of results.slice(5)) {
        assert.equal(r.headers['x-switchyard-attempts'], '1', 'a skip is not an upstream attempt');
        const record = await recordOf(rig.url, r);
        assert.deepEqual(
          record.attempts.map((a) => [a.provider, a.outcome, a.kind, a.reason]),
          [
            ['primary', 'skipped', 'capacity', 'skipped: rpm 5/5'],
            ['secondary', 'ok', undefined, 'chosen: priority 2'],
          ],
          explain(record.attempts),
        );
      }
      const row = await deploymentRow(rig.url, 'primary');
      assert.deepEqual(row.rpm, { used: 5, limit: 5 });
    } finally {
      await rig.close();
    }
  });
});

describe('configured rpm and tpm under concurrency', () => {
  test('10 requests at once against rpm 5: exactly 5 reach the primary', async () => {
    const clouds = await startClouds(['primary', 'secondary'], { primary: { latencyMs: 100 } });
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL('rpm: 5') }),
    );
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(rig.url, `burst ${i}`)));
      for (const r of results) assert.equal(r.status, 200, r.body);
      assert.equal(results.filter((r) => r.provider === 'primary').length, 5);
      assert.equal(inferenceRequests(clouds[0]!), 5);
    } finally {
      await rig.close();
    }
  });

  test('tpm: estimates are settled to real usage, and a request that would pass the limit spills over', async () => {
    const clouds = await startClouds(['primary', 'secondary']);
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL('tpm: 300') }),
    );
    try {
      // Each request is estimated at about 118 tokens (max_tokens 100) and uses about 12: without
      // settling, the third would already be refused.
      for (let i = 0; i < 5; i++) {
        const r = await chat(rig.url, `tpm ${i}`, { maxTokens: 100 });
        assert.equal(r.provider, 'primary', `request ${i}`);
      }
      const used = (await deploymentRow(rig.url, 'primary')).tpm.used;
      assert.ok(used > 0 && used < 100, `tokens used after settling: ${used}`);
      // Three at once, the primary slow: the first two fit (used + 2 x 118 <= 300), the third does not.
      clouds[0]!.sim.setKnobs({ latencyMs: 300 });
      const burst = await Promise.all(
        [0, 1, 2].map((i) => chat(rig.url, `tpm burst ${i}`, { maxTokens: 100 })),
      );
      assert.deepEqual(burst.map((r) => r.provider).sort(), ['primary', 'primary', 'secondary']);
      const record = await recordOf(rig.url, burst.find((r) => r.provider === 'secondary')!);
      assert.equal(record.attempts[0]?.kind, 'capacity');
      assert.match(record.attempts[0]?.reason ?? '', /^skipped: tpm \d+\+\d+\/300$/);
    } finally {
      await rig.close();
    }
  });

  test('every deployment at its rpm: 429 with retry-after until the minute window frees', async () => {
    const clouds = await startClouds(['solo']);
    const rig = await startRig(
      clouds,
      gatewayYaml({
        providers: clouds.map(cloudProvider),
        models: `  - name: m
    deployments:
${deployment('solo', 'rpm: 2')}`,
      }),
    );
    try {
      for (let i = 0; i < 2; i++) assert.equal((await chat(rig.url, `fill ${i}`)).status, 200);
      const refused = await chat(rig.url, 'one too many');
      assert.equal(refused.status, 429, refused.body);
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter > 50 && retryAfter <= 60, `retry-after ${retryAfter}`);
      assert.match(JSON.parse(refused.body).error.message, /rpm 2\/2/);
      assert.equal(inferenceRequests(clouds[0]!), 2);
    } finally {
      await rig.close();
    }
  });
});

describe("the cloud's remaining-capacity headers", () => {
  const variants = [
    ['openai', 'x-ratelimit-remaining-requests'],
    ['anthropic', 'anthropic-ratelimit-requests-remaining'],
  ] as const;
  for (const [kind, header] of variants)
    test(`${kind}: ${header} 0 moves traffic to the secondary before the primary ever answers 429`, async () => {
      const LIMIT = 3;
      const clouds = await startClouds(['primary', 'secondary'], {
        primary: { kind, rateLimit: { requestsPerMinute: LIMIT } },
      });
      const rig = await startRig(
        clouds,
        gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL('') }),
      );
      try {
        const results: ChatResult[] = [];
        for (let i = 1; i <= LIMIT + 4; i++) {
          const r = await chat(rig.url, `remaining ${i}`, { stream: i % 2 === 0 });
          assert.equal(r.status, 200, r.body);
          assert.equal(r.text, simText(r.provider, `remaining ${i}`));
          results.push(r);
        }
        assert.deepEqual(
          results.map((r) => r.provider),
          [...Array(LIMIT).fill('primary'), ...Array(4).fill('secondary')],
        );
        // Every request the primary saw was admitted: a request past its limit would be a 429 and
        // would be recorded too, so exactly LIMIT recorded requests means it never refused one.
        assert.equal(inferenceRequests(clouds[0]!), LIMIT);
        const record = await recordOf(rig.url, results[LIMIT]!);
        assert.equal(record.attempts[0]?.provider, 'primary');
        assert.equal(record.attempts[0]?.outcome, 'skipped');
        assert.equal(record.attempts[0]?.kind, 'throttled');
        assert.match(record.attempts[0]?.reason ?? '', /^skipped: throttled by the cloud for another \d+ms$/);
        const row = await deploymentRow(rig.url, 'primary');
        assert.equal(row.reported?.remainingRequests, 0);
        assert.ok(row.throttledUntil !== null, 'the primary is shown throttled until the reset');
      } finally {
        await rig.close();
      }
    });
});

describe('remaining capacity under concurrency', () => {
  test('what the cloud said is left, minus what was sent since: a burst takes only the remaining requests', async () => {
    const LIMIT = 5;
    const clouds = await startClouds(['primary', 'secondary'], {
      primary: { rateLimit: { requestsPerMinute: LIMIT } },
    });
    const rig = await startRig(
      clouds,
      gatewayYaml({ providers: clouds.map(cloudProvider), models: PRIORITY_MODEL('') }),
    );
    try {
      // Two alone: the primary then says 3 are left.
      for (let i = 0; i < 2; i++) assert.equal((await chat(rig.url, `alone ${i}`)).provider, 'primary');
      assert.equal((await deploymentRow(rig.url, 'primary')).reported?.remainingRequests, LIMIT - 2);
      // Five at once while the primary is slow: only the three it has room for go there.
      clouds[0]!.sim.setKnobs({ latencyMs: 200 });
      const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => chat(rig.url, `burst ${i}`)));
      for (const r of burst) assert.equal(r.status, 200, r.body);
      assert.deepEqual(burst.map((r) => r.provider).sort(), [
        'primary',
        'primary',
        'primary',
        'secondary',
        'secondary',
      ]);
      assert.equal(inferenceRequests(clouds[0]!), LIMIT, 'the primary never had to refuse one');
    } finally {
      await rig.close();
    }
  });
});

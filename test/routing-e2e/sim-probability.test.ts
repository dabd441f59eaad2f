/** The sims' random faults (`probability` on a fault), which the chaos test is built on. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FaultQueue, type SimFault } from '../../src/sim/faults.ts';
import { startSimCloud } from '../../src/sim/index.ts';
import { send } from '../helpers/raw.ts';
import { seeded } from './harness.ts';

/** Answers the given values in turn, then fails the test if asked for more. */
function dice(...values: number[]): () => number {
  return () => {
    const next = values.shift();
    assert.ok(next !== undefined, 'the fault queue rolled more dice than expected');
    return next;
  };
}

const s500: SimFault = { kind: 'status', status: 500, probability: 0.5, times: 2 };
const reset: SimFault = { kind: 'reset', times: 'always' };

describe('FaultQueue with probability', () => {
  test('a roll under the probability hits; a spared request goes on to the next fault', () => {
    const q = new FaultQueue(dice(0.7, 0.2));
    q.add([s500, reset]);
    assert.equal(q.take('m')?.kind, 'reset', 'spared by the 500 (0.7 ≥ 0.5): the next fault applies');
    assert.equal(q.take('m')?.kind, 'status', 'hit (0.2 < 0.5)');
  });

  test('`times` counts only the requests hit', () => {
    const q = new FaultQueue(dice(0.9, 0.1, 0.9, 0.1));
    q.add([s500]);
    assert.equal(q.take('m'), undefined);
    assert.equal(q.take('m')?.kind, 'status');
    assert.equal(q.take('m'), undefined);
    assert.equal(q.take('m')?.kind, 'status');
    assert.deepEqual(q.pending(), [], 'two hits used it up');
  });

  test('a fault that does not match the model rolls no dice; probability 0 never hits, 1 always does', () => {
    const q = new FaultQueue(dice(0.999, 0));
    q.add([
      { kind: 'hang', match: { model: 'other' }, probability: 1 },
      { kind: 'status', status: 503, probability: 1, times: 'always' },
    ]);
    assert.equal(q.take('m')?.kind, 'status');
    const never = new FaultQueue(dice(0));
    never.add([{ kind: 'reset', probability: 0 }]);
    assert.equal(never.take('m'), undefined);
  });
});

describe('a sim with random faults', () => {
  test('a probability out of [0, 1] is refused, naming the field', async () => {
    const sim = await startSimCloud({ kind: 'openai' });
    try {
      assert.throws(() => sim.addFaults([{ kind: 'reset', probability: 1.5 }]), /probability/);
      const r = await send(
        sim.url,
        '/_sim/faults',
        JSON.stringify({ faults: [{ kind: 'reset', probability: -1 }] }),
      );
      assert.ok('status' in r);
      assert.equal(r.status, 400);
      assert.match(r.body, /probability/);
    } finally {
      await sim.close();
    }
  });

  test('a seeded source replays the same faults: 200 requests at 30% fail exactly where the seed says', async () => {
    const sim = await startSimCloud({ kind: 'openai', random: seeded(42) });
    sim.addFaults([{ kind: 'status', status: 500, times: 'always', probability: 0.3 }]);
    try {
      const replay = seeded(42);
      const expected: number[] = [];
      const got: number[] = [];
      for (let i = 0; i < 200; i++) {
        expected.push(replay() < 0.3 ? 500 : 200);
        const r = await send(
          sim.url,
          '/v1/chat/completions',
          JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: `r${i}` }] }),
          { authorization: 'Bearer sk-any' },
        );
        got.push('status' in r ? r.status : 0);
      }
      assert.deepEqual(got, expected);
      const failures = got.filter((s) => s === 500).length;
      assert.ok(failures > 30 && failures < 90, `${failures} of 200 failed at 30%`);
    } finally {
      await sim.close();
    }
  });
});

/** The Redis limit store's batcher: a lone call goes at once, calls made together go together. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, KeyList } from '../../src/limits/redis-batch.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function recorder(fail?: (items: readonly number[]) => boolean) {
  const sent: number[][] = [];
  const answers: Array<() => void> = [];
  const batcher = new Batcher<number, string>(
    (items) =>
      new Promise((resolve, reject) => {
        sent.push([...items]);
        answers.push(() =>
          fail?.(items) ? reject(new Error('redis down')) : resolve(items.map((i) => `r${i}`)),
        );
      }),
    3,
  );
  const answerAll = () => {
    for (const answer of answers.splice(0)) answer();
  };
  return { batcher, sent, answerAll };
}

describe('Batcher', () => {
  test('a call made while nothing is on its way is sent at once, alone', async () => {
    const { batcher, sent, answerAll } = recorder();
    const result = batcher.call(1);
    assert.deepEqual(sent, [[1]], 'sent before the end of this turn: a lone request waits for nothing');
    answerAll();
    assert.equal(await result, 'r1');
  });

  test('calls made while one is on its way go together at the end of the turn, at most maxItems per call, each answered in order', async () => {
    const { batcher, sent, answerAll } = recorder();
    const results = [1, 2, 3, 4, 5].map((i) => batcher.call(i));
    assert.deepEqual(sent, [[1]]);
    await tick();
    assert.deepEqual(sent, [[1], [2, 3, 4], [5]]);
    answerAll();
    assert.deepEqual(await Promise.all(results), ['r1', 'r2', 'r3', 'r4', 'r5']);
    // Nothing on its way again: the next call goes at once.
    void batcher.call(6);
    assert.deepEqual(sent.at(-1), [6]);
    answerAll();
  });

  test('a failed script call fails each of its calls, and only those', async () => {
    const { batcher, answerAll } = recorder((items) => items.includes(3));
    const results = [1, 2, 3].map((i) => batcher.call(i).catch((err: Error) => err.message));
    await tick();
    answerAll();
    assert.deepEqual(await Promise.all(results), ['r1', 'redis down', 'redis down']);
  });
});

describe('KeyList', () => {
  test('each key once, 1-based; a budget key brings its companions right after it', () => {
    const keys = new KeyList();
    assert.equal(keys.add('w:a'), 1);
    assert.equal(keys.add('b', 'b:res', 'b:amt'), 2);
    assert.equal(keys.add('w:a'), 1);
    assert.equal(keys.add('b', 'b:res', 'b:amt'), 2);
    assert.equal(keys.add('w:c'), 5);
    assert.deepEqual(keys.keys, ['w:a', 'b', 'b:res', 'b:amt', 'w:c']);
  });
});

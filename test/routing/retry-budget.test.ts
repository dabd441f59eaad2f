/** The retry budget: retries capped at a share of recent requests, with a floor. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBudget } from '../../src/resilience/retry-budget.ts';

describe('RetryBudget', () => {
  /** A time on a second boundary, so bucket arithmetic in the tests is easy to follow. */
  const T = 1_766_000_000_000;

  function retriesAllowed(budget: RetryBudget, at: number, max = 1000): number {
    let n = 0;
    while (n < max && budget.tryRetry(at)) n++;
    return n;
  }

  it('a quiet gateway still gets the floor of retries per window', () => {
    assert.equal(retriesAllowed(new RetryBudget(20), T), 10);
    assert.equal(retriesAllowed(new RetryBudget(20, 3), T), 3);
  });

  it('with traffic, retries are capped at the percentage of requests in the window', () => {
    const budget = new RetryBudget(20, 10);
    for (let i = 0; i < 100; i++) budget.recordRequest(T + i);
    assert.equal(retriesAllowed(budget, T + 500), 20);
    // More requests free more retries.
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 600);
    assert.equal(retriesAllowed(budget, T + 700), 10);
  });

  it('the floor wins while the percentage is below it', () => {
    const budget = new RetryBudget(20, 10);
    for (let i = 0; i < 10; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 10);
  });

  it('0 % with no floor allows no retry at all', () => {
    const budget = new RetryBudget(0, 0);
    for (let i = 0; i < 100; i++) budget.recordRequest(T);
    assert.equal(budget.tryRetry(T), false);
  });

  it('requests and retries leave the window after 10 s', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 50; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 10);
    assert.equal(budget.tryRetry(T + 9_999), false, 'still inside the window');
    // At T+10 s the bucket of second T is reused: its requests and retries are gone.
    assert.equal(budget.tryRetry(T + 10_000), false, 'no requests left, floor 0');
    for (let i = 0; i < 5; i++) budget.recordRequest(T + 10_000);
    assert.equal(retriesAllowed(budget, T + 10_000), 1);
  });

  it('the window slides one second at a time', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 50; i++) budget.recordRequest(T); // second 0
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 5_000); // second 5
    assert.equal(retriesAllowed(budget, T + 5_000), 20);
    // At second 10 the first 50 requests have left; 20 retries used at second 5 remain.
    assert.equal(budget.tryRetry(T + 10_000), false);
    // At second 15 everything from second 5 has left too.
    for (let i = 0; i < 50; i++) budget.recordRequest(T + 15_000);
    assert.equal(retriesAllowed(budget, T + 15_000), 10);
  });

  it('a long pause clears everything', () => {
    const budget = new RetryBudget(20, 0);
    for (let i = 0; i < 100; i++) budget.recordRequest(T);
    assert.equal(retriesAllowed(budget, T), 20);
    for (let i = 0; i < 100; i++) budget.recordRequest(T + 3_600_000);
    assert.equal(retriesAllowed(budget, T + 3_600_000), 20);
  });

  it('a clock that steps back a little counts into the current second', () => {
    const budget = new RetryBudget(50, 0);
    budget.recordRequest(T + 2_000);
    budget.recordRequest(T + 1_000);
    assert.equal(retriesAllowed(budget, T + 1_500), 1);
  });
});

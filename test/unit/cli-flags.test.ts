/** The store commands' flag parsers: each bad value is an error naming the flag and the rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  choiceFlag,
  FlagError,
  formatTable,
  isoTime,
  isoTimeFlag,
  listFlag,
  nonNegativeNumberFlag,
  positiveIntFlag,
  requireFlag,
} from '../../src/cli/flags.ts';

const refuses = (run: () => unknown, message: RegExp) =>
  assert.throws(run, (err: unknown) => err instanceof FlagError && message.test(err.message));

describe('store command flags', () => {
  it('ISO times: a date is UTC midnight, a time needs its zone', () => {
    assert.equal(isoTimeFlag('from', '2026-03-01'), Date.UTC(2026, 2, 1));
    assert.equal(isoTimeFlag('from', '2026-03-01T09:30:00Z'), Date.UTC(2026, 2, 1, 9, 30));
    assert.equal(isoTimeFlag('from', '2026-03-01T09:30+02:00'), Date.UTC(2026, 2, 1, 7, 30));
    assert.equal(isoTimeFlag('from', undefined), undefined);
    for (const bad of ['2026-03-01T09:30:00', 'yesterday', '2026-13-45', '']) {
      refuses(() => isoTimeFlag('from', bad), /^--from: expected an ISO 8601 date/);
    }
    assert.equal(isoTime(Date.UTC(2026, 2, 1, 9, 30, 0, 123)), '2026-03-01T09:30:00Z');
  });

  it('numbers, choices, lists and required flags', () => {
    assert.equal(positiveIntFlag('rpm', '60'), 60);
    for (const bad of ['0', '-1', '1.5', '1e3', 'ten', '']) {
      refuses(() => positiveIntFlag('rpm', bad), /^--rpm: expected a positive whole number/);
    }
    assert.equal(nonNegativeNumberFlag('budget-usd', '12.5'), 12.5);
    assert.equal(nonNegativeNumberFlag('budget-usd', '0'), 0);
    for (const bad of ['-1', 'lots', '', 'Infinity']) {
      refuses(
        () => nonNegativeNumberFlag('budget-usd', bad),
        /^--budget-usd: expected a number of 0 or more/,
      );
    }
    assert.equal(choiceFlag('format', 'csv', ['table', 'csv'] as const), 'csv');
    refuses(
      () => choiceFlag('format', 'xml', ['table', 'csv'] as const),
      /^--format: expected one of table, csv, got "xml"/,
    );
    assert.deepEqual(listFlag('models', ' a, b ,,c'), ['a', 'b', 'c']);
    refuses(() => listFlag('models', ' , '), /^--models: expected a comma-separated list/);
    refuses(() => requireFlag('name', '  '), /^--name is required$/);
    assert.equal(requireFlag('name', 'bot'), 'bot');
  });

  it('tables pad columns, right-aligning the numeric ones', () => {
    assert.equal(
      formatTable(
        ['NAME', 'N'],
        [
          ['a', '1'],
          ['long-name', '100'],
        ],
        [false, true],
      ),
      'NAME         N\na            1\nlong-name  100',
    );
  });
});

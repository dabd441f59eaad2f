import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { KEEP_PRETENURING_FLAG, tuneGarbageCollector } from '../../src/cli/gc-tuning.ts';

describe('tuneGarbageCollector (serve, demo)', () => {
  it('turns allocation-site pretenuring off by default', () => {
    const set: string[] = [];
    assert.deepEqual(
      tuneGarbageCollector([], (flags) => set.push(flags)),
      ['--no-allocation-site-pretenuring'],
    );
    assert.deepEqual(set, ['--no-allocation-site-pretenuring']);
  });

  it('leaves V8 alone when node was started with --allocation-site-pretenuring', () => {
    const set: string[] = [];
    assert.deepEqual(
      tuneGarbageCollector(['--max-old-space-size=512', KEEP_PRETENURING_FLAG], (flags) => set.push(flags)),
      [],
    );
    assert.deepEqual(set, []);
  });

  it('takes effect at run time: a process that calls it makes no pretenuring decisions', () => {
    // Objects from one literal that all outlive the next scavenge: V8 pretenures such a site.
    const survivors = `
      const kept = [];
      for (let i = 0; i < 2_000_000; i++) {
        kept.push({ i, text: 'x' + i });
        if (kept.length > 200_000) kept.length = 0;
      }`;
    const run = (tune: boolean) =>
      execFileSync(
        process.execPath,
        [
          '--trace-pretenuring-statistics',
          '--input-type=module',
          '-e',
          `${tune ? `import { tuneGarbageCollector } from ${JSON.stringify(new URL('../../src/cli/gc-tuning.ts', import.meta.url).href)}; tuneGarbageCollector();` : ''}${survivors}`,
        ],
        { encoding: 'utf8' },
      );
    const decisions = (out: string) =>
      out.split('\n').filter((l) => /=> (tenure|maybe tenure)/.test(l)).length;
    assert.ok(decisions(run(false)) > 0, 'the control run (V8 default) should pretenure the site');
    assert.equal(decisions(run(true)), 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StopSignal } from '../../src/gateway/stop-signal.ts';

describe('StopSignal (the end of the shutdown grace period)', () => {
  it('calls every listener once at the stop, and none that was removed', () => {
    const stop = new StopSignal();
    const heard: string[] = [];
    stop.listen(() => heard.push('a'));
    const b = stop.listen(() => heard.push('b'));
    stop.listen(() => heard.push('c'));
    stop.unlisten(b);
    stop.unlisten(b);
    assert.equal(stop.size, 2);
    assert.equal(stop.aborted, false);
    stop.stop();
    stop.stop();
    assert.deepEqual(heard.sort(), ['a', 'c']);
    assert.equal(stop.aborted, true);
    assert.equal(stop.size, 0);
  });

  it('removes from the head, the middle and the tail of its list', () => {
    const stop = new StopSignal();
    const heard: number[] = [];
    const nodes = [0, 1, 2, 3, 4].map((i) => stop.listen(() => heard.push(i)));
    stop.unlisten(nodes[4]!); // the head (the newest)
    stop.unlisten(nodes[2]!);
    stop.unlisten(nodes[0]!); // the tail
    assert.equal(stop.size, 2);
    stop.stop();
    assert.deepEqual(heard.sort(), [1, 3]);
  });

  it('stops a listener that arrives after the stop at once', () => {
    const stop = new StopSignal();
    stop.stop();
    let heard = 0;
    stop.listen(() => heard++);
    assert.equal(heard, 1);
    assert.equal(stop.size, 0);
  });

  it('a listener that removes another during the stop does not keep it from being called', () => {
    const stop = new StopSignal();
    const heard: string[] = [];
    let second: ReturnType<StopSignal['listen']> | undefined;
    stop.listen(() => {
      heard.push('first');
      if (second) stop.unlisten(second);
    });
    second = stop.listen(() => heard.push('second'));
    stop.stop();
    assert.deepEqual(heard.sort(), ['first', 'second']);
  });
});

/**
 * The gateway's stop (the end of the shutdown grace period) as every request in flight hears it.
 *
 * Not an AbortSignal with one listener per request: EventTarget compares each new listener with
 * every one already registered, so with 50 requests in flight each request walked 50 listeners on
 * the way in and again on the way out, ~1% of a gateway's CPU at saturation in a `perf` profile
 * (`addEventListener`). Not a Set either: a long-lived Set (or Map) that every request adds to and
 * deletes from rehashes into a fresh table every few dozen requests, and those tables, young and
 * referenced from the old generation, were promoted: scavenges went from 3-5 ms to 10-18 ms, with
 * mark-compacts in every run. So: a doubly linked list of small nodes, added and removed in
 * constant time, nothing reallocated.
 */
export interface StopListener {
  readonly fn: () => void;
  prev: StopListener | undefined;
  next: StopListener | undefined;
  linked: boolean;
}

export class StopSignal {
  private head: StopListener | undefined;
  private stopped = false;

  get aborted(): boolean {
    return this.stopped;
  }

  /**
   * Calls `fn` once, at the stop; at once when the stop already happened (a request that starts
   * after it must not run on). Pass what it returns to `unlisten` when the request ends.
   */
  listen(fn: () => void): StopListener {
    const node: StopListener = { fn, prev: undefined, next: undefined, linked: false };
    if (this.stopped) {
      fn();
      return node;
    }
    node.next = this.head;
    if (this.head) this.head.prev = node;
    this.head = node;
    node.linked = true;
    return node;
  }

  unlisten(node: StopListener): void {
    if (!node.linked) return;
    node.linked = false;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }

  /** Stops every listener, each once; later calls do nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const listeners: Array<() => void> = [];
    for (let node = this.head; node; node = node.next) {
      node.linked = false;
      listeners.push(node.fn);
    }
    this.head = undefined;
    for (const fn of listeners) fn();
  }

  /** Listeners registered now, counted by walking the list (tests: none may stay behind a finished request). */
  get size(): number {
    let size = 0;
    for (let node = this.head; node; node = node.next) size++;
    return size;
  }
}

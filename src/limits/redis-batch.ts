/**
 * Calls that arrive together go to Redis together. A call made while no other is on its way goes
 * at once, alone (a lone request waits for nothing); calls made while one is on its way are
 * queued and sent together at the end of the current turn of the event loop (`setImmediate`), as
 * one script call. At saturation that divides the client's per-command work (command objects,
 * RESP encoding, reply parsing, a promise) and Redis's per-script work by the batch size.
 */

/** What one batched item resolves to, or why it failed. */
interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/** One script call per batch; it answers one result per item, in the items' order. */
export type SendBatch<I, R> = (items: readonly I[]) => Promise<R[]>;

export class Batcher<I, R> {
  private queue: Array<Pending<I, R>> = [];
  private scheduled = false;
  private readonly send: SendBatch<I, R>;
  private readonly maxItems: number;
  /** Script calls sent and not yet answered. */
  private inFlight = 0;

  constructor(send: SendBatch<I, R>, maxItems: number) {
    this.send = send;
    this.maxItems = maxItems;
  }

  call(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.inFlight === 0 && !this.scheduled) {
        void this.sendOne([{ item, resolve, reject }]);
        return;
      }
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let start = 0; start < all.length; start += this.maxItems) {
      void this.sendOne(all.slice(start, start + this.maxItems));
    }
  }

  private async sendOne(batch: Array<Pending<I, R>>): Promise<void> {
    this.inFlight++;
    try {
      const results = await this.send(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`${results.length} replies to a batch of ${batch.length}`);
      }
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
    }
  }
}

/** The keys of one script call, each once, by index (Lua's KEYS is 1-based). */
export class KeyList {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();

  /** The 1-based index of `key`; with `run`, keys that must sit next to it (a budget's set and amounts). */
  add(...run: string[]): number {
    const first = run[0]!;
    const known = this.index.get(first);
    if (known !== undefined) return known;
    const at = this.keys.length + 1;
    run.forEach((key, i) => {
      this.keys.push(key);
      this.index.set(key, at + i);
    });
    return at;
  }
}

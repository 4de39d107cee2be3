import type { Db } from './database.ts';

// Group commit: requests that arrive while a transaction is in flight are gathered and written
// together by the next one, so a burst of N accepted messages pays a handful of commits (and fsyncs)
// instead of N. A lone request on an idle server is written at once: no timer, no added latency.
//
// If a batch fails, its items are retried one per transaction so that one bad item only fails
// itself; their callers see exactly what a lone write would have seen.

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export type BatchWork<I, O> = (trx: Db, items: I[]) => Promise<O[]>;

export class GroupCommit<I, O> {
  private queue: Pending<I, O>[] = [];
  private active = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly work: BatchWork<I, O>,
    private readonly opts: { maxConcurrent: number; maxBatch: number; afterCommit?: (items: I[], out: O[]) => void },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // Start the batch on the next turn of the event loop rather than now: requests whose bodies
      // were parsed in this turn then share it. setImmediate adds microseconds on an idle server.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Resolves once nothing is queued or being written. */
  drain(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.active < this.opts.maxConcurrent) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.active++;
      void this.run(batch).finally(() => {
        this.active--;
        if (this.queue.length > 0) this.pump();
        else if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async run(batch: Pending<I, O>[]): Promise<void> {
    try {
      const out = await this.write(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(out[i]));
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      for (const p of batch) {
        try {
          p.resolve((await this.write([p.item]))[0]);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  private async write(items: I[]): Promise<O[]> {
    const out = await this.db.transaction().execute((trx) => this.work(trx, items));
    this.opts.afterCommit?.(items, out);
    return out;
  }
}

import { transaction } from './after-commit.ts';
import type { Db } from './database.ts';

// Group commit: requests that arrive while a transaction is in flight are gathered and written
// together by the next one, so a burst of N accepted messages pays a handful of commits (and fsyncs)
// instead of N. A lone request on an idle server is written at once: no timer, no added latency.
//
// If a batch fails, it is split in halves and each half is retried as its own transaction, recursively,
// until the failing items are alone: a lone item rejects with its own error, exactly what a lone write
// would have seen, and every other item commits in a batch. One bad item among N costs about
// 2·log2(N) extra (ever smaller) transactions instead of N, and the good half of each split commits
// at the first try.
// Why not a SAVEPOINT per item in one retry transaction? The work is one set of statements for the
// whole batch (that is the point of batching); savepoints would run it once per item, N times the
// statements and round trips, which costs more than log2(N) small transactions as soon as batches
// are large. Why not retry the batch minus the culprit? The error rarely says which item it was
// (one INSERT of N rows fails as a whole); bisection needs no such knowledge.
//
// The retries do not take a maxConcurrent slot: the slot is given back when the first attempt fails,
// so new batches keep flowing while a split is retried; the halves run concurrently with them (and
// with each other), as many as the database's own pool or lock lets through.

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/** Writes a batch: in a transaction GroupCommit opens, or (`ownTransaction`) on the database itself. */
export type BatchWork<I, O> = (trx: Db, items: I[]) => Promise<O[]>;

export class GroupCommit<I, O> {
  private queue: Pending<I, O>[] = [];
  private active = 0;
  /** Halves of failed batches being retried; outside `active` (see above). */
  private retrying = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly work: BatchWork<I, O>,
    private readonly opts: {
      maxConcurrent: number;
      maxBatch: number;
      afterCommit?: (items: I[], out: O[]) => void;
      /**
       * The work opens a transaction itself when it needs one: a batch that is a single statement
       * commits on its own, without BEGIN and COMMIT round trips. The work must then keep each batch
       * all-or-nothing (or safe to write again) as the bisection below expects.
       */
      ownTransaction?: boolean;
    },
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
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private idle(): boolean {
    return this.active === 0 && this.retrying === 0 && this.queue.length === 0;
  }

  private wakeIdle(): void {
    if (this.idle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.active < this.opts.maxConcurrent) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.active++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.active--;
        if (this.queue.length > 0) this.pump();
        else this.wakeIdle();
      };
      void this.attempt(batch, release).finally(release);
    }
  }

  /** Writes `batch`; on failure calls `release` (so new batches may start) and bisects. */
  private async attempt(batch: Pending<I, O>[], release: () => void): Promise<void> {
    let out: O[];
    try {
      out = await this.write(batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1) {
        release();
        batch[0].reject(err);
        return;
      }
      // split() counts its halves as retrying before the slot is released, so drain() cannot see idle in between.
      const halves = this.split(batch);
      release();
      await halves;
      return;
    }
    batch.forEach((p, i) => p.resolve(out[i]));
  }

  private async split(batch: Pending<I, O>[]): Promise<void> {
    const mid = Math.ceil(batch.length / 2);
    this.retrying += 2;
    const retry = (half: Pending<I, O>[]) =>
      this.attempt(half, () => {}).finally(() => {
        this.retrying--;
        this.wakeIdle();
      });
    await Promise.all([retry(batch.slice(0, mid)), retry(batch.slice(mid))]);
  }

  private async write(items: I[]): Promise<O[]> {
    const out = this.opts.ownTransaction ? await this.work(this.db, items) : await transaction(this.db, (trx) => this.work(trx, items));
    this.opts.afterCommit?.(items, out);
    return out;
  }
}

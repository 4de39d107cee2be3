import type { Logger } from 'pino';
import type { Clock } from './clock.ts';

// The emulator's clock (`--clock virtual`): time stands still until someone moves it, and moving it
// replays what would have happened on the way, in order. A move to T does not jump: it stops at each
// moment work falls due before T (a scheduled message, a receipt, a webhook retry), lets the workers
// do everything due by then, and only then goes on, so an 8-hour webhook retry schedule runs as its
// eight attempts at their own times, and a receipt that is due before a validity expiry lands first.
//
// The workers are the ones real time uses (dispatch, webhooks): they read this clock, and the clock
// asks them two things (TimedWork): when is the next thing due, and is everything due by now done.
// The second is answered from the database (nothing due is left) and from the worker's own memory
// (nothing claimed is still being sent or recorded). This is for one process: a second Aviary on the
// same PostgreSQL keeps its own clock, and its workers do not answer this one's questions.

export interface TimedWork {
  /** The earliest moment after `now` something becomes due (null: nothing scheduled). */
  nextDueAt(now: Date): Promise<Date | null>;
  /** Nothing due at or before `now` is left to claim, in flight or waiting to be recorded. */
  caughtUp(now: Date): Promise<boolean>;
  /** Look for due work at once (the clock moved). */
  wake(): void;
}

export interface Advance {
  now: Date;
  /** Moments the clock stopped at on the way (when work fell due), the end excluded. */
  stops: number;
}

/** How long one stop may take in real time before the clock moves on anyway (and says so in the log). */
const SETTLE_TIMEOUT_MS = 30_000;
const SETTLE_POLL_MS = 5;

export class VirtualClock implements Clock {
  private at: number;
  private readonly work = new Set<TimedWork>();
  /** Moves run one after another: two tests moving the clock at once get one timeline. */
  private moving: Promise<unknown> = Promise.resolve();

  constructor(
    start: Date,
    private readonly log?: Logger,
  ) {
    this.at = start.getTime();
  }

  now(): Date {
    return new Date(this.at);
  }

  /** Workers whose due work the clock waits for; returns the detach function. */
  attach(w: TimedWork): () => void {
    this.work.add(w);
    return () => this.work.delete(w);
  }

  /** Sets the time without replaying anything on the way: a restored snapshot's moment. */
  set(to: Date): void {
    this.at = to.getTime();
    for (const w of this.work) w.wake();
  }

  /** Moves forward to `to` (never back), stopping wherever work falls due on the way. */
  advanceTo(to: Date): Promise<Advance> {
    const run = this.moving.then(() => this.move(to.getTime()));
    this.moving = run.catch(() => undefined);
    return run;
  }

  private async move(target: number): Promise<Advance> {
    let stops = 0;
    // Work due now (sent before the move) goes first, at the time it was due.
    await this.settle();
    for (;;) {
      const next = await this.nextDue();
      if (next === null || next > target) break;
      this.at = Math.max(this.at, next);
      stops++;
      await this.settle();
    }
    this.at = Math.max(this.at, target);
    await this.settle();
    return { now: this.now(), stops };
  }

  private async nextDue(): Promise<number | null> {
    const now = this.now();
    let next: number | null = null;
    for (const w of this.work) {
      const at = await w.nextDueAt(now);
      if (at && at.getTime() > this.at && (next === null || at.getTime() < next)) next = at.getTime();
    }
    return next;
  }

  /** Wakes the workers and waits until everything due by now is done. */
  private async settle(): Promise<void> {
    const now = this.now();
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (const w of this.work) w.wake();
    for (;;) {
      let busy = false;
      for (const w of this.work) {
        if (await w.caughtUp(now)) continue;
        busy = true;
        // A worker asleep on its poll interval looks again at once (cheap: one claim round).
        w.wake();
      }
      if (!busy) return;
      if (Date.now() > deadline) {
        this.log?.warn({ at: now.toISOString() }, 'virtual clock: work due at this moment did not finish in 30 s; moving on');
        return;
      }
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
  }
}

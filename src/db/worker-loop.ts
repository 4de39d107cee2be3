import type { Clock } from '../clock.ts';
import type { Signal } from './signal.ts';

// The one loop skeleton of Aviary's workers (the message dispatcher, the webhook worker), as
// graphile-worker has one: do a round of work; if it says more is due at once, go again; otherwise
// sleep until the next due moment it names or a wake-up (work committed here, NOTIFY from another
// process), at most pollMs, so a lost wake-up costs one poll, never the work. A round that throws
// (the database went away) is logged and retried after a backoff that doubles up to 30 s, so a
// store outage is neither a crash nor a busy loop.

/** What a round says: work again at once, or the next moment something is due (null: not known, poll). */
export type RoundResult = 'again' | Date | null;

export interface WorkerLoopOptions {
  signal: Signal;
  pollMs: number;
  /** What due moments are measured against (a virtual clock also wakes the loop when it moves). */
  clock: Clock;
  isStopped: () => boolean;
  round: () => Promise<RoundResult>;
  onError: (err: unknown) => void;
}

export function errorBackoffMs(failuresInARow: number): number {
  return Math.min(30_000, 250 * 2 ** Math.min(failuresInARow, 7));
}

/** Runs rounds until isStopped(); resolves when the loop has ended (stop also notifies the signal). */
export async function runWorkerLoop(o: WorkerLoopOptions): Promise<void> {
  let failuresInARow = 0;
  while (!o.isStopped()) {
    // A wake-up during the round (work committed meanwhile) makes the sleep after it return at once.
    const seen = o.signal.generation;
    try {
      const next = await o.round();
      failuresInARow = 0;
      if (next === 'again') continue;
      const sleep = next ? Math.min(next.getTime() - o.clock.now().getTime(), o.pollMs) : o.pollMs;
      if (!o.isStopped()) await o.signal.wait(sleep, seen);
    } catch (err) {
      if (o.isStopped()) break;
      failuresInARow++;
      o.onError(err);
      await o.signal.wait(errorBackoffMs(failuresInARow));
    }
  }
}

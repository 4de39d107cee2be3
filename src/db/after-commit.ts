import type { Db } from './database.ts';

// What a statement inside a transaction may only act on once the transaction has committed: the
// outbox writes webhook deliveries already leased to this process's worker, which must not send them
// before they exist for everyone else, nor ever when the transaction rolls back. Kysely has no
// commit hooks, so transactions that want them are opened here; `afterSettle` tells a caller inside
// any other transaction that nobody would run its callback, and the caller then takes the road that
// needs none (the outbox leaves the rows for a claim).
//
// Committed means COMMIT returned. A COMMIT whose answer was lost (the connection dropped) counts as
// rolled back here, though it may have committed: what depends on this must be safe either way
// (leased deliveries are then sent by whoever claims them when the lease ends).

type Settled = (committed: boolean) => void;

const open = new WeakMap<object, Settled[]>();

/** Runs `fn` in a transaction whose `afterSettle` callbacks run once it commits or rolls back. */
export async function transaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  let callbacks: Settled[] = [];
  let out: T;
  try {
    out = await db.transaction().execute((trx) => {
      callbacks = [];
      open.set(trx, callbacks);
      return fn(trx);
    });
  } catch (err) {
    settle(callbacks, false);
    throw err;
  }
  settle(callbacks, true);
  return out;
}

/** Registers `fn` for when `trx` settles; false (and `fn` is never called) when `trx` was not opened by `transaction`. */
export function afterSettle(trx: Db, fn: Settled): boolean {
  const callbacks = open.get(trx);
  if (!callbacks) return false;
  callbacks.push(fn);
  return true;
}

// A callback must not throw: the transaction's outcome is decided, and an error here would make the
// caller think a committed batch failed (and write it again). One that does is reported, not thrown.
function settle(callbacks: Settled[], committed: boolean): void {
  for (const fn of callbacks.splice(0)) {
    try {
      fn(committed);
    } catch (err) {
      process.emitWarning(err as Error);
    }
  }
}

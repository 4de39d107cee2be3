import { transaction } from './after-commit.ts';
import { errors } from '../errors.ts';
import type { Db } from './database.ts';

// Requests that lock several rows (a contact and its lists, a list and its contacts) can, rarely,
// deadlock with each other on PostgreSQL; the database then aborts one of them (40P01), and a lost
// race for a unique identifier surfaces as a RetryTransaction. Both are safe to run again from the
// start, which is what the losing side does, a few times, before giving up with the error.

export class RetryTransaction extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RetryTransaction';
  }
}

const RETRYABLE = new Set(['40P01', '40001']);

export async function transactionWithRetry<T>(db: Db, fn: (trx: Db) => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction(db, fn);
    } catch (err) {
      const retryable = err instanceof RetryTransaction || RETRYABLE.has((err as { code?: string }).code ?? '');
      if (err instanceof RetryTransaction && attempt >= attempts) throw errors.conflict(`The request lost a race with concurrent changes ${attempts} times: ${err.message}`);
      if (!retryable || attempt >= attempts) throw err;
    }
  }
}

import type { Logger } from 'pino';

// Losing the database is an outage, not a bug: the server restarted or failed over, an operator
// terminated the session, the network dropped, idle_in_transaction_session_timeout fired. Callers
// treat these errors as transient: requests get a retryable 503, background loops back off and retry.
// The transaction that was in flight is rolled back by the server, so nothing is half-written; only
// a COMMIT whose answer was lost is ambiguous (it may have been applied), as with any database.

// SQLSTATE: class 08 (connection exception); 57P01 admin_shutdown (pg_terminate_backend, fast
// shutdown), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, recovery);
// 25P03 idle_in_transaction_session_timeout.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '25P03']);
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN']);
// node-postgres reports a dead socket with plain Errors; these are its messages (pg/lib/client.js, pg-pool).
const MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
];

/** Whether `err` (or an error it wraps) says the database connection was lost or could not be made. */
export function isConnectionLost(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (code.startsWith('08') || SQLSTATES.has(code) || SOCKET_CODES.has(code))) return true;
    if (typeof message === 'string' && MESSAGES.some((m) => m.test(message))) return true;
  }
  return false;
}

/**
 * Runs `fn` until it succeeds, retrying with backoff while the error is a lost connection and
 * `deadline` (epoch ms) has not passed; any other error, or one after the deadline, is thrown.
 * For writes whose inputs exist only in memory (what a provider answered): losing them would mean
 * doing the work again.
 */
export async function retryWhileConnectionLost<T>(fn: () => Promise<T>, opts: { deadline: number; log: Logger; what: string }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      // Short waits: once the database is back, this write should land before anyone else acts on
      // the rows it is about (another worker re-claiming them when their lease ends).
      const left = opts.deadline - Date.now();
      if (!isConnectionLost(err) || left < 100) throw err;
      const wait = Math.min(50 * 2 ** attempt, 500, left - 50);
      opts.log.warn({ err: (err as Error).message, attempt, retryInMs: wait }, `database connection lost while ${opts.what}; retrying`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

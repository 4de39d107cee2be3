import pg from 'pg';
import type { Logger } from 'pino';

// Cross-process wake-ups on PostgreSQL: writers `NOTIFY aviary_work` in the transaction that creates
// work (delivered on commit), and every worker process LISTENs on one dedicated connection. If that
// connection drops, the worker still polls (dispatchPollMs) while it reconnects, so nothing is lost.

export const WORK_CHANNEL = 'aviary_work';

export function listenForWork(databaseUrl: string, log: Logger, onNotify: () => void): { close: () => Promise<void> } {
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async () => {
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on('notification', () => onNotify());
    c.on('error', (err) => {
      log.warn({ err: err.message }, 'work notification connection lost; reconnecting');
      scheduleReconnect();
    });
    try {
      await c.connect();
      await c.query(`listen ${WORK_CHANNEL}`);
      if (closed) return void (await c.end().catch(() => {}));
      client = c;
      onNotify(); // anything that arrived while we were not listening
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not listen for work notifications; retrying');
      await c.end().catch(() => {});
      scheduleReconnect();
    }
  };
  const scheduleReconnect = () => {
    client = undefined;
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, 1000);
    retryTimer.unref();
  };
  void connect();
  return {
    close: async () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}

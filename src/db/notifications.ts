import pg from 'pg';
import type { Logger } from 'pino';
import { WORK_CHANNEL } from './notify-channels.ts';

// Cross-process wake-ups on PostgreSQL: writers `NOTIFY aviary_work` in the transaction that creates
// work (delivered on commit), and every worker process LISTENs on one dedicated connection. If that
// connection drops, the worker still polls (dispatchPollMs) while it reconnects, so nothing is lost.

/** `onNotify` gets the channel notified, or undefined after (re)connecting: anything may have been missed. */
export function listenForWork(
  databaseUrl: string,
  log: Logger,
  onNotify: (channel?: string) => void,
  channels: string[] = [WORK_CHANNEL],
): { close: () => Promise<void> } {
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = async () => {
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on('notification', (msg) => onNotify(msg.channel));
    c.on('error', (err) => {
      log.warn({ err: err.message }, 'work notification connection lost; reconnecting');
      scheduleReconnect();
    });
    try {
      await c.connect();
      for (const channel of channels) await c.query(`listen ${channel}`);
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

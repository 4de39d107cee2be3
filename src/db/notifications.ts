import pg from 'pg';
import type { Logger } from 'pino';
import { WORK_CHANNEL } from './notify-channels.ts';

// Cross-process wake-ups on PostgreSQL: writers NOTIFY (notify-channels.ts) in the transaction that creates
// work (delivered on commit), and every worker process LISTENs on one dedicated connection. If that
// connection drops (restart, failover, pg_terminate_backend, network cut), the listener reconnects
// with backoff and LISTENs again; NOTIFYs sent meanwhile are lost, so after reconnecting it wakes the
// workers once. While it is down the workers still poll (dispatchPollMs), so nothing is left behind.

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

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
  let failures = 0;

  const connect = async () => {
    // Keep-alive: this connection is idle for long stretches, and a vanished peer must still be noticed.
    const c = new pg.Client({ connectionString: databaseUrl, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (client === c) log.warn({ err: err?.message ?? 'connection closed' }, 'work notification connection lost; reconnecting');
      void c.end().catch(() => {});
      scheduleReconnect();
    };
    c.on('notification', (msg) => onNotify(msg.channel));
    c.on('error', onLost);
    c.on('end', () => onLost());
    try {
      await c.connect();
      for (const channel of channels) await c.query(`listen ${channel}`);
      if (closed) return void (await c.end().catch(() => {}));
      if (lost) return;
      client = c;
      if (failures > 0) log.info({ afterAttempts: failures }, 'listening for work notifications again');
      failures = 0;
      onNotify(); // anything that arrived while we were not listening
    } catch (err) {
      if (failures === 0 || failures % 10 === 0) {
        log.warn({ err: (err as Error).message, attempts: failures + 1 }, 'could not listen for work notifications; retrying');
      }
      onLost(err as Error);
    }
  };
  const scheduleReconnect = () => {
    client = undefined;
    if (closed || retryTimer) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** failures, RETRY_MAX_MS);
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
    retryTimer.unref();
  };
  void connect();
  return {
    close: async () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

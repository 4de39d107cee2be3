import type { FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import { bootstrapIfEmpty, type BootstrapResult } from './bootstrap.ts';
import type { Config } from './config.ts';
import { createContext, type AppContext } from './context.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { listenForWork } from './db/notifications.ts';
import { EVENTS_CHANNEL, WEBHOOK_CHANNEL, WORK_CHANNEL } from './db/notify-channels.ts';
import { REDACT_PATHS, serializeRequest } from './http/redact.ts';
import { mediaOf } from './media/service.ts';
import { buildServer } from './server/server.ts';
import { VirtualClock } from './virtual-clock.ts';
import { WebhookWorker, webhookWorkerOptions } from './webhooks/worker.ts';

export interface Aviary {
  url: string;
  ctx: AppContext;
  server: FastifyInstance;
  dispatcher?: Dispatcher;
  webhooks?: WebhookWorker;
  /** Set when this start created the starter workspace (first start on an empty store). */
  bootstrap?: BootstrapResult;
  close(): Promise<void>;
}

/** JSON lines on stdout (or `destination`); requests are logged without headers or query values. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'aviary' },
      serializers: { req: serializeRequest },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

/** Opens the store, migrates it, bootstraps an empty one and starts listening. */
export async function startAviary(config: Config, log: Logger = createLogger(config)): Promise<Aviary> {
  const database = await openDatabase(config, log);
  try {
    const applied = await migrate(database.db, (name) => log.info({ migration: name }, 'applying migration'));
    log.info({ database: database.kind, location: database.location, applied: applied.length }, 'store ready');
    // Starting from a snapshot replaces the whole store: nothing to bootstrap.
    const bootstrap = config.bootstrap && !config.restore ? await bootstrapIfEmpty(database.db) : undefined;
    const ctx = createContext(config, log, database);
    if (config.restore) {
      const restored = await ctx.snapshots.restore(config.restore).catch((err: Error) => {
        throw new Error(`cannot restore snapshot "${config.restore}": ${err.message}`);
      });
      log.info({ snapshot: restored.name, savedAt: restored.createdAt }, 'restored snapshot');
    }
    const server = buildServer(ctx);
    let dispatcher: Dispatcher | undefined;
    let listener: { close: () => Promise<void> } | undefined;
    let webhooks: WebhookWorker | undefined;
    const detach: Array<() => void> = [];
    if (config.roles.includes('worker')) {
      dispatcher = new Dispatcher(
        {
          db: database.db,
          claims: database.claims,
          log,
          clock: ctx.clock,
          channels: ctx.channels,
          connectors: ctx.connectors,
          signal: ctx.workSignal,
          eventsSignal: ctx.eventsSignal,
          outbox: ctx.outbox,
          allowPrivateUrls: config.mediaAllowPrivateUrls,
          media: mediaOf(ctx).forConnectors(),
        },
        {
          batchSize: config.dispatchBatchSize,
          leaseMs: config.dispatchLeaseMs,
          retryBaseMs: config.dispatchRetryBaseMs,
          maxAttempts: config.dispatchMaxAttempts,
          pollMs: config.dispatchPollMs,
          maxInFlight: config.dispatchMaxInFlight,
          // PGlite has one session: more loops would only queue behind each other.
          concurrency: database.kind === 'pglite' ? 1 : config.workerConcurrency,
        },
      );
      webhooks = new WebhookWorker({ db: database.db, log, clock: ctx.clock, outbox: ctx.outbox }, webhookWorkerOptions(config, database.kind));
      if (config.databaseUrl) {
        listener = listenForWork(
          config.databaseUrl,
          log,
          // No channel: the listener has just (re)connected and may have missed any of them.
          (channel) => {
            if (channel === undefined || channel === WORK_CHANNEL) ctx.workSignal.notify();
            if (channel === undefined || channel === EVENTS_CHANNEL) ctx.eventsSignal.notify();
            if (channel === undefined || channel === WEBHOOK_CHANNEL) webhooks?.wake();
          },
          [WORK_CHANNEL, EVENTS_CHANNEL, WEBHOOK_CHANNEL],
        );
      }
      // A virtual clock waits for these workers' due work each time it moves (virtual-clock.ts).
      if (ctx.clock instanceof VirtualClock) detach.push(ctx.clock.attach(dispatcher), ctx.clock.attach(webhooks));
      dispatcher.start();
      webhooks.start();
    }
    if (config.roles.includes('api')) await server.listen({ host: config.host, port: config.port });
    const addr = server.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const url = config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    let closing: Promise<void> | undefined;
    return {
      url,
      ctx,
      server,
      dispatcher,
      webhooks,
      bootstrap,
      close: () =>
        (closing ??= (async () => {
          // Stop accepting, let in-flight requests finish (their writes complete), then close the store.
          await server.close();
          await ctx.messageWriter.drain();
          for (const d of detach) d();
          await dispatcher?.stop();
          await webhooks?.stop();
          await listener?.close();
          await database.close();
        })()),
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticate.ts';
import { ChannelCache } from './channels/channel-cache.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { ACCEPT_CONNECTIONS, type Database, type Db } from './db/database.ts';
import { GroupCommit } from './db/group-commit.ts';
import type { MessageRow } from './db/schema.ts';
import { createConnectorRegistry } from './connectors/registry.ts';
import type { Connector } from './connectors/connector.ts';
import { Signal } from './db/signal.ts';
import { RateLimiter } from './http/rate-limit.ts';
import { channelEventSpecs } from './channels/channel-events.ts';
import { interactionEventSpecs } from './interactions/interaction-events.ts';
import { acceptMessages, type PendingMessage } from './messages/accept-message.ts';
import { messageEventSpecs } from './messages/message-events.ts';
import { ChaosCache } from './sandbox/chaos-store.ts';
import { SnapshotStore } from './sandbox/snapshots.ts';
import { webhookDelayMs } from './connectors/sandbox/chaos.ts';
import { Outbox } from './webhooks/emit.ts';
import type { EventCatalogue } from './webhooks/events.ts';
import { VirtualClock } from './virtual-clock.ts';

/**
 * Every webhook event Aviary emits, as its features describe them: what subscriptions may name. The
 * outbox (webhooks/) is handed this rather than importing the features, so it stays below them.
 */
export const WEBHOOK_EVENTS: EventCatalogue = new Map([...messageEventSpecs(), ...interactionEventSpecs(), ...channelEventSpecs()]);

// Everything a request handler needs, built once per process. Handlers take what they use from it;
// nothing here is global, so tests can run several instances side by side.
export interface AppContext {
  config: Config;
  log: Logger;
  /** The time everything is scheduled and stamped by: the system's, or the emulator's virtual clock (--clock). */
  clock: Clock;
  database: Database;
  db: Db;
  auth: Authenticator;
  rateLimiter: RateLimiter;
  channels: ChannelCache;
  messageWriter: GroupCommit<PendingMessage, MessageRow>;
  connectors: Map<string, Connector>;
  /** Wakes this process's dispatcher when messages are committed here. */
  workSignal: Signal;
  /** Wakes this process's dispatcher when provider events (receipts, replies) are written here. */
  eventsSignal: Signal;
  /** Webhook events: written with their cause, delivered by the webhook worker. */
  outbox: Outbox;
  /** The sandbox's failure-injection rules, cached per process (sandbox/chaos-store.ts). */
  chaos: ChaosCache;
  /** Snapshots of the whole state, as files under config.snapshotDir (sandbox/snapshots.ts). */
  snapshots: SnapshotStore;
}

export function createContext(config: Config, log: Logger, database: Database): AppContext {
  const db = database.db;
  const workSignal = new Signal();
  const eventsSignal = new Signal();
  const clock = config.clock === 'virtual' ? new VirtualClock(new Date(), log) : systemClock;
  const chaos = new ChaosCache(db);
  // The "delayWebhooks" rules hold back a workspace's webhook deliveries (docs/sandbox.md).
  const outbox = new Outbox(WEBHOOK_EVENTS, async (trx, workspaceId) => {
    const rules = await chaos.rulesIn(trx, workspaceId);
    return rules?.rules.some((r) => r.action === 'delayWebhooks') ? (e) => webhookDelayMs(rules, e) : undefined;
  }, clock);
  const ctx: AppContext = {
    config,
    log,
    clock,
    database,
    db,
    auth: new Authenticator(db, { failuresPerMinute: config.authFailureLimit }),
    rateLimiter: new RateLimiter({ get: config.rateLimitGet, write: config.rateLimitPost }),
    channels: new ChannelCache(db),
    messageWriter: new GroupCommit<PendingMessage, MessageRow>(database.accepts, (db, items) => acceptMessages(db, outbox, items, clock.now()), {
      // Two batches in flight keep the database busy while the next one gathers; more would only
      // make each batch smaller (measured: bench/, BENCHMARKS.md).
      maxConcurrent: Math.min(ACCEPT_CONNECTIONS, database.concurrency),
      maxBatch: 500,
      afterCommit: () => workSignal.notify(),
      ownTransaction: true,
    }),
    connectors: createConnectorRegistry(config, { chaos }),
    workSignal,
    eventsSignal,
    outbox,
    chaos,
    snapshots: new SnapshotStore(db, config.snapshotDir, {
      quiesce: () => ctx.messageWriter.drain(),
      now: () => clock.now(),
      restored: (clockAt) => {
        clearCaches(ctx);
        // Ids, state and time: a virtual clock goes back (or forward) to the snapshot's moment.
        if (clock instanceof VirtualClock) clock.set(clockAt);
        // The restored state may hold due messages, receipts and webhook deliveries.
        ctx.workSignal.notify();
        ctx.eventsSignal.notify();
        ctx.outbox.wake();
      },
    }),
  };
  return ctx;
}

/** Forgets every per-process cache: after a reset of the store, or in tests. */
export function clearCaches(ctx: AppContext): void {
  ctx.auth.clear();
  ctx.channels.clear();
  ctx.rateLimiter.reset();
  ctx.outbox.forgetAll();
  ctx.chaos.clear();
}

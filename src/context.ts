import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticate.ts';
import { ChannelCache } from './channels/channel-cache.ts';
import type { Config } from './config.ts';
import { ContactCache } from './contacts/contacts.ts';
import type { Database, Db } from './db/database.ts';
import { GroupCommit } from './db/group-commit.ts';
import type { MessageRow } from './db/schema.ts';
import { createConnectorRegistry } from './connectors/registry.ts';
import type { Connector } from './connectors/connector.ts';
import { Signal } from './db/signal.ts';
import { RateLimiter } from './http/rate-limit.ts';
import { rememberContacts, writeMessages, type PendingMessage } from './messages/accept-message.ts';

// Everything a request handler needs, built once per process. Handlers take what they use from it;
// nothing here is global, so tests can run several instances side by side.
export interface AppContext {
  config: Config;
  log: Logger;
  database: Database;
  db: Db;
  auth: Authenticator;
  rateLimiter: RateLimiter;
  channels: ChannelCache;
  contacts: ContactCache;
  messageWriter: GroupCommit<PendingMessage, MessageRow>;
  connectors: Map<string, Connector>;
  /** Wakes this process's dispatcher when work is committed here. */
  workSignal: Signal;
}

export function createContext(config: Config, log: Logger, database: Database): AppContext {
  const db = database.db;
  const contacts = new ContactCache();
  const workSignal = new Signal();
  return {
    config,
    log,
    database,
    db,
    auth: new Authenticator(db),
    rateLimiter: new RateLimiter({ get: config.rateLimitGet, write: config.rateLimitPost }),
    channels: new ChannelCache(db),
    contacts,
    messageWriter: new GroupCommit<PendingMessage, MessageRow>(db, (trx, items) => writeMessages(trx, items, contacts), {
      // Two batches in flight keep the database busy while the next one gathers; more would only
      // make each batch smaller (measured: bench/, BENCHMARKS.md).
      maxConcurrent: Math.min(2, database.concurrency),
      maxBatch: 500,
      afterCommit: (items) => {
        rememberContacts(items, contacts);
        workSignal.notify();
      },
    }),
    connectors: createConnectorRegistry(),
    workSignal,
  };
}

/** Forgets every per-process cache: after a reset of the store, or in tests. */
export function clearCaches(ctx: AppContext): void {
  ctx.auth.clear();
  ctx.channels.clear();
  ctx.contacts.clear();
  ctx.rateLimiter.reset();
}

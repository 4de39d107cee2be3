import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { GenericPlanClient, PreparingClient } from './prepared-statements.ts';
import type { DB } from './schema.ts';

export type Db = Kysely<DB>;

export interface Database {
  db: Db;
  /**
   * The same database, for the dispatcher's claims of messages (dispatch/claim.ts) outside a
   * transaction: on PostgreSQL, a connection of its own whose plans are generic, made once
   * (plan_cache_mode = force_generic_plan) where `db` plans every execution. The claim is one large
   * statement whose plan does not depend on its values (it walks indexes in order, with limits), and
   * planning it took three quarters of its time: 1.65 ms of 2.3 (p50) at 500 messages/s, half of all
   * the time PostgreSQL spent on statements (bench send-latency, PostgreSQL's own log). One
   * connection: a process runs one claim at a time (dispatcher.ts oneClaimAtATime). PGlite has one
   * session, `db` itself.
   */
  claims: Db;
  /**
   * The same database again, for the accept's statement (messages/accept-message.ts, run by the
   * message writer's group commit): on PostgreSQL, two connections whose plans are generic, as the
   * claims' are. The accept is one large CTE that finds or creates contacts and stores the batch;
   * it walks indexes whatever its values, and planning it cost 1.3 ms a batch against 4.5 ms to
   * run it, two fifths of PostgreSQL's planning in the pipeline (bench smpp-pipeline,
   * pg_stat_statements). PGlite: `db` itself.
   */
  accepts: Db;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for log lines: a directory, "memory", or the URL without its password. */
  location: string;
  /** How many transactions may usefully run at once (PGlite has one session). */
  concurrency: number;
  close(): Promise<void>;
}

/** The message writer keeps at most two batches in flight (context.ts). */
export const ACCEPT_CONNECTIONS = 2;

// Return timestamps as Date and keep int8 counts exact-but-usable; numeric types we use are int4.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'memory' | 'dataDir' | 'pgPoolSize'>, log?: Logger): Promise<Database> {
  if (config.databaseUrl) {
    const pool = openPool(config.databaseUrl, PreparingClient, config.pgPoolSize, log);
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    const claims = new Kysely<DB>({ dialect: new PostgresDialect({ pool: openPool(config.databaseUrl, GenericPlanClient, 1, log) }) });
    const accepts = new Kysely<DB>({ dialect: new PostgresDialect({ pool: openPool(config.databaseUrl, GenericPlanClient, ACCEPT_CONNECTIONS, log) }) });
    const close = async () => {
      await Promise.all([db.destroy(), claims.destroy(), accepts.destroy()]);
    };
    try {
      await pool.query('select 1');
    } catch (err) {
      await close().catch(() => {});
      throw new Error(`cannot connect to PostgreSQL at ${redact(config.databaseUrl)}: ${(err as Error).message}`);
    }
    return { db, claims, accepts, kind: 'postgres', location: redact(config.databaseUrl), concurrency: config.pgPoolSize, close };
  }

  const release = config.memory ? () => {} : lockDataDir(config.dataDir);
  try {
    const pglite = await PGlite.create(config.memory ? 'memory://' : config.dataDir);
    // In memory there is no disk to make a commit durable on: don't wait for one (measured +12%).
    if (config.memory) await pglite.exec('set synchronous_commit = off');
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      claims: db,
      accepts: db,
      kind: 'pglite',
      location: config.memory ? 'memory' : config.dataDir,
      concurrency: 1,
      close: async () => {
        await db.destroy();
        await pglite.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

function openPool(url: string, Client: typeof PreparingClient, max: number, log?: Logger): pg.Pool {
  // TCP keep-alive: a connection whose peer vanished (network cut, failover) is noticed even while idle.
  const pool = new pg.Pool({ Client, connectionString: url, max, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  // A client losing its connection (restart, failover, pg_terminate_backend, network cut) emits
  // 'error', and an 'error' without a listener kills the process. The pool listens only while a
  // client is idle; this listener covers checked-out clients too. Their query or transaction fails
  // with the same error (a 503 for a request, a retry for a worker) and the pool discards the
  // client when it is released.
  pool.on('connect', (client) => {
    client.on('error', (err) => log?.warn({ err: err.message, code: (err as { code?: string }).code }, 'postgres connection lost'));
  });
  // The pool re-emits an idle client's error (already logged above); it too needs a listener.
  pool.on('error', (err) => log?.debug({ err: err.message }, 'postgres idle client discarded'));
  return pool;
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

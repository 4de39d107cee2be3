import { sql } from 'kysely';
import { createLogger, startAviary, type Aviary } from './app.ts';
import type { Platform } from './channels/platforms.ts';
import { defaultConfig, type Config } from './config.ts';
import { clearCaches } from './context.ts';

// An Aviary for your own test suite: in memory, on a free loopback port, with the starter workspace
// and one sandbox channel per platform. Works with node:test, vitest or jest:
//
//   import { startEmulator } from 'aviary/testing';
//   const bird = await startEmulator();
//   // point your Bird client at bird.baseUrl with bird.accessKey, send to bird.channels.sms ...
//   await bird.waitForStatus(messageId, 'delivered');
//   await bird.reset();   // between tests: empty, same ids and key
//   await bird.close();   // after all

export interface EmulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Use this PostgreSQL database instead of in-memory PGlite (it is migrated, and emptied by reset()). */
  databaseUrl?: string;
  /** Delay before the sandbox reports delivery receipts, in ms (default 100). */
  receiptDelayMs?: number;
  /** Any other Aviary option (see `aviary help`). */
  config?: Partial<Config>;
}

export interface Emulator {
  baseUrl: string;
  accessKey: string;
  organizationId: string;
  workspaceId: string;
  /** Sandbox channel id per platform. */
  channels: Record<Platform, string>;
  aviary: Aviary;
  /** Empties every table and restores the starter workspace with the same ids and access key. */
  reset(): Promise<void>;
  close(): Promise<void>;
  /** Resolves with the message once it has one of the statuses; rejects after timeoutMs (default 10 s). */
  waitForStatus(messageId: string, status: string | string[], opts?: { timeoutMs?: number }): Promise<Record<string, unknown>>;
}

const STARTER_TABLES = ['organizations', 'workspaces', 'access_keys', 'channels'] as const;

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const config: Config = {
    ...defaultConfig(),
    port: opts.port ?? 0,
    memory: !opts.databaseUrl,
    databaseUrl: opts.databaseUrl,
    logLevel: 'warn',
    rateLimit: false,
    ...opts.config,
  };
  const aviary = await startAviary(config, createLogger(config));
  const { db } = aviary.ctx;
  if (!aviary.bootstrap) {
    await aviary.close();
    throw new Error('startEmulator needs an empty store: the database already holds an organization');
  }
  const boot = aviary.bootstrap;
  if (opts.receiptDelayMs !== undefined) {
    await db.updateTable('channels').set({ connector_config: JSON.stringify({ receiptDelayMs: opts.receiptDelayMs }) }).where('workspace_id', '=', boot.workspace.id).execute();
  }
  const snapshot = new Map<string, Record<string, unknown>[]>();
  for (const table of STARTER_TABLES) snapshot.set(table, (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows);

  const emulator: Emulator = {
    baseUrl: aviary.url,
    accessKey: boot.accessKey,
    organizationId: boot.organizationId,
    workspaceId: boot.workspace.id,
    channels: Object.fromEntries(boot.channels.map((c) => [c.platform, c.id])) as Record<Platform, string>,
    aviary,
    async reset() {
      await aviary.ctx.messageWriter.drain();
      const tables = (
        await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema() and tablename <> 'aviary_migrations'`.execute(db)
      ).rows.map((r) => r.name);
      // The workers keep running, and TRUNCATE's table locks can deadlock with their queries: the
      // database then aborts one side, and retrying the truncate is all it takes.
      for (let attempt = 1; ; attempt++) {
        try {
          await sql`truncate ${sql.join(tables.map((t) => sql.table(t)))}`.execute(db);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
        }
      }
      for (const table of STARTER_TABLES) {
        const rows = snapshot.get(table)!;
        if (rows.length) await sql`insert into ${sql.table(table)} select * from json_populate_recordset(null::${sql.table(table)}, ${JSON.stringify(rows)}::json)`.execute(db);
      }
      clearCaches(aviary.ctx);
    },
    close: () => aviary.close(),
    async waitForStatus(messageId, status, { timeoutMs = 10_000 } = {}) {
      const want = Array.isArray(status) ? status : [status];
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, unknown> | undefined;
      for (;;) {
        const res = await fetch(`${aviary.url}/workspaces/${boot.workspace.id}/messages/${messageId}`, { headers: { authorization: `AccessKey ${boot.accessKey}` } });
        last = (await res.json()) as Record<string, unknown>;
        if (want.includes(last.status as string)) return last;
        if (Date.now() > deadline) throw new Error(`message ${messageId} did not reach ${want.join(' or ')} within ${timeoutMs} ms; it is ${JSON.stringify(last.status ?? last)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return emulator;
}

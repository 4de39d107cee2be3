import { resolve } from 'node:path';
import { sql } from 'kysely';
import { createLogger, startAviary, type Aviary } from './app.ts';
import { createAccessKey, hashKey } from './auth/access-keys.ts';
import type { Platform } from './channels/platforms.ts';
import { parseDuration } from './clock.ts';
import { defaultConfig, type Config } from './config.ts';
import { clearCaches } from './context.ts';
import { VirtualClock } from './virtual-clock.ts';

// An Aviary for your own test suite: in memory, on a free loopback port, with the starter workspace
// and one sandbox channel per platform. Works with node:test, vitest or jest:
//
//   import { startEmulator } from 'aviary/testing';
//   const bird = await startEmulator();
//   // point your Bird client at bird.baseUrl with bird.accessKey, send to bird.channels.sms ...
//   await bird.waitForStatus(messageId, 'delivered');
//   await bird.reset();   // between tests: empty, same ids and key
//   await bird.close();   // after all
//
// Snapshots (files under config.snapshotDir, default ./.aviary/snapshots): `await bird.snapshot('seeded')`
// after setting up, `await bird.restore('seeded')` between tests; `startEmulator({ snapshot: 'seeded' })`
// starts from one saved by an earlier run, and its reset() goes back to it.
//
// Time: `startEmulator({ clock: 'virtual' })` stands time still; `await bird.advanceClock('8h')` moves it,
// and everything due on the way (scheduled sends, receipts, expiries, webhook retries) happens in order
// before it resolves. reset() puts the clock back where it started.

export interface EmulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Use this PostgreSQL database instead of in-memory PGlite (it is migrated, and emptied by reset()). */
  databaseUrl?: string;
  /** Delay before the sandbox reports delivery receipts, in ms (default 100). */
  receiptDelayMs?: number;
  /**
   * Start from this snapshot (saved earlier, by any Aviary, into the snapshot directory) instead of an
   * empty store; reset() then restores it. The emulator adds an organization-wide access key of its own
   * to the snapshot's first organization, and names that organization's first workspace.
   */
  snapshot?: string;
  /** 'virtual': time stands still until advanceClock() moves it (default 'real'). */
  clock?: Config['clock'];
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
  /** Empties every table and restores the starter workspace with the same ids and access key (or the start snapshot). */
  reset(): Promise<void>;
  /** Saves the whole state as a snapshot of this name (replacing one of the same name). */
  snapshot(name: string): Promise<void>;
  /** Brings back the whole state of a snapshot; this emulator's access key keeps working. */
  restore(name: string): Promise<void>;
  close(): Promise<void>;
  /** The time the emulator goes by (with clock 'virtual', it stands still until advanceClock). */
  now(): Date;
  /**
   * Moves a virtual clock forward by "8h", "90s", "2 days" or milliseconds, or to a moment (a Date),
   * and resolves once everything due on the way has happened, in order. Throws with a real clock.
   */
  advanceClock(by: string | number | Date): Promise<Date>;
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
    snapshotDir: resolve('.aviary/snapshots'),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...opts.config,
    ...(opts.snapshot ? { restore: opts.snapshot } : {}),
  };
  const aviary = await startAviary(config, createLogger(config));
  const { db } = aviary.ctx;
  let boot: Identity;
  try {
    boot = opts.snapshot ? await identityIn(aviary) : starterIdentity(aviary);
  } catch (err) {
    await aviary.close();
    throw err;
  }
  if (opts.receiptDelayMs !== undefined) {
    await db.updateTable('channels').set({ connector_config: JSON.stringify({ receiptDelayMs: opts.receiptDelayMs }) }).where('workspace_id', '=', boot.workspaceId).execute();
  }
  const snapshot = new Map<string, Record<string, unknown>[]>();
  for (const table of STARTER_TABLES) snapshot.set(table, (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows);
  const keyRow = (await sql<Record<string, unknown>>`select * from access_keys where key_hash = ${hashKey(boot.accessKey)}`.execute(db)).rows;
  // A snapshot saved elsewhere does not hold this emulator's key: it is put back after each restore.
  const keepKey = async () => {
    await sql`insert into access_keys select * from json_populate_recordset(null::access_keys, ${JSON.stringify(keyRow)}::json)
      where exists (select 1 from organizations where id = ${boot.organizationId}) on conflict do nothing`.execute(db);
    aviary.ctx.auth.clear();
  };

  const startedAt = aviary.ctx.clock.now();
  const emulator: Emulator = {
    baseUrl: aviary.url,
    accessKey: boot.accessKey,
    organizationId: boot.organizationId,
    workspaceId: boot.workspaceId,
    channels: boot.channels,
    aviary,
    async snapshot(name) {
      await aviary.ctx.snapshots.save(name);
    },
    async restore(name) {
      await aviary.ctx.snapshots.restore(name);
      await keepKey();
    },
    async reset() {
      if (opts.snapshot) return emulator.restore(opts.snapshot);
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
      if (aviary.ctx.clock instanceof VirtualClock) aviary.ctx.clock.set(startedAt);
    },
    now: () => aviary.ctx.clock.now(),
    async advanceClock(by) {
      const clock = aviary.ctx.clock;
      if (!(clock instanceof VirtualClock)) throw new Error("advanceClock needs startEmulator({ clock: 'virtual' })");
      const ms = by instanceof Date ? by.getTime() - clock.now().getTime() : parseDuration(by);
      if (ms === undefined || ms < 0) throw new Error(`advanceClock: ${String(by)} is not a duration forward ("8h", "90s", milliseconds) or a later Date`);
      return (await clock.advanceTo(new Date(clock.now().getTime() + ms))).now;
    },
    close: () => aviary.close(),
    async waitForStatus(messageId, status, { timeoutMs = 10_000 } = {}) {
      const want = Array.isArray(status) ? status : [status];
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, unknown> | undefined;
      for (;;) {
        const res = await fetch(`${aviary.url}/workspaces/${boot.workspaceId}/messages/${messageId}`, { headers: { authorization: `AccessKey ${boot.accessKey}` } });
        last = (await res.json()) as Record<string, unknown>;
        if (want.includes(last.status as string)) return last;
        if (Date.now() > deadline) throw new Error(`message ${messageId} did not reach ${want.join(' or ')} within ${timeoutMs} ms; it is ${JSON.stringify(last.status ?? last)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return emulator;
}

interface Identity {
  accessKey: string;
  organizationId: string;
  workspaceId: string;
  channels: Record<Platform, string>;
}

function starterIdentity(aviary: Aviary): Identity {
  const boot = aviary.bootstrap;
  if (!boot) throw new Error('startEmulator needs an empty store: the database already holds an organization');
  return {
    accessKey: boot.accessKey,
    organizationId: boot.organizationId,
    workspaceId: boot.workspace.id,
    channels: Object.fromEntries(boot.channels.map((c) => [c.platform, c.id])) as Record<Platform, string>,
  };
}

/** Started from a snapshot: its first organization and workspace, their sandbox channels, and a key of our own. */
async function identityIn(aviary: Aviary): Promise<Identity> {
  const { db } = aviary.ctx;
  const org = await db.selectFrom('organizations').select('id').orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
  const ws = org && (await db.selectFrom('workspaces').select('id').where('organization_id', '=', org.id).orderBy('created_at').orderBy('id').limit(1).executeTakeFirst());
  if (!org || !ws) throw new Error('startEmulator: the snapshot holds no workspace');
  const channels = await db
    .selectFrom('channels')
    .select(['platform', 'id'])
    .where('workspace_id', '=', ws.id)
    .where('connector_type', '=', 'sandbox')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  const { key } = await createAccessKey(db, { organizationId: org.id, name: 'startEmulator' });
  return {
    accessKey: key,
    organizationId: org.id,
    workspaceId: ws.id,
    // Oldest last, so the first channel of each platform wins.
    channels: Object.fromEntries(channels.map((c) => [c.platform, c.id])) as Record<Platform, string>,
  };
}

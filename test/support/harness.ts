import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger, startAviary, type Aviary } from '../../src/app.ts';
import type { BootstrapResult } from '../../src/bootstrap.ts';
import type { Platform } from '../../src/channels/platforms.ts';
import { defaultConfig, type Config } from '../../src/config.ts';
import { startEmulator } from '../../src/testing.ts';

// Test harness: a real Aviary on a free loopback port, on PGlite (always) and on a fresh PostgreSQL
// database (when scripts/test.mjs found one). One instance per test file; reset() empties it between
// tests, which is much cheaper than starting another.

export type StoreKind = 'pglite' | 'postgres';

export function storeKinds(): StoreKind[] {
  return process.env.AVIARY_TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** Creates an empty PostgreSQL database for one test file; returns its URL and a drop function. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.AVIARY_TEST_DATABASE_URL!;
  const name = `aviary_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestAviary {
  kind: StoreKind;
  aviary: Aviary;
  /** The PostgreSQL database's URL (postgres only), for a test's own connections to it. */
  databaseUrl?: string;
  url: string;
  key: string;
  workspaceId: string;
  organizationId: string;
  boot: BootstrapResult;
  channel(platform: string): string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  reset(): Promise<void>;
  close(): Promise<void>;
  /** Polls the message until it has `status` (or any of them); fails after timeoutMs. */
  waitForStatus(messageId: string, status: string | string[], timeoutMs?: number): Promise<any>;
  history(messageId: string): Promise<string[]>;
  /**
   * Waits until nothing more can happen to the message on its own: no attempt due or leased, and no
   * provider event (receipt, reply) still to be applied. Then returns it. Use this, not a sleep, before
   * asserting that something did not change: once quiet, a later change would need a new cause.
   */
  waitForQuiet(messageId: string, timeoutMs?: number): Promise<any>;
}

export async function startTestAviary(kind: StoreKind, overrides: Partial<Config> = {}): Promise<TestAviary> {
  const pgdb = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
  const emulator = await startEmulator({
    databaseUrl: pgdb?.url,
    config: { logLevel: process.env.AVIARY_TEST_LOG_LEVEL ?? 'silent', dispatchRetryBaseMs: 1, dispatchPollMs: 200, ...overrides },
  });
  const aviary = emulator.aviary;
  const t: TestAviary = {
    kind,
    aviary,
    databaseUrl: pgdb?.url,
    url: emulator.baseUrl,
    boot: aviary.bootstrap!,
    key: emulator.accessKey,
    workspaceId: emulator.workspaceId,
    organizationId: emulator.organizationId,
    channel(platform) {
      const id = emulator.channels[platform as Platform];
      if (!id) throw new Error(`no ${platform} channel`);
      return id;
    },
    async request(method, path, body, headers = {}) {
      const h: Record<string, string> = { authorization: `AccessKey ${t.key}`, ...headers };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      for (const [k, v] of Object.entries(h)) if (v === '') delete h[k];
      const res = await fetch(`${t.url}${path}`, { method, headers: h, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    reset: () => emulator.reset(),
    waitForStatus: (messageId, status, timeoutMs) => emulator.waitForStatus(messageId, status, { timeoutMs }),
    async history(messageId) {
      const rows = await aviary.ctx.db
        .selectFrom('message_status_history')
        .select('status')
        .where('workspace_id', '=', t.workspaceId)
        .where('message_id', '=', messageId)
        .orderBy('seq')
        .execute();
      return rows.map((r) => r.status);
    },
    async waitForQuiet(messageId, timeoutMs = 10_000) {
      const { db } = aviary.ctx;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const row = await db
          .selectFrom('messages')
          .select(['status', 'next_attempt_at', 'lease_owner'])
          .where('workspace_id', '=', t.workspaceId)
          .where('id', '=', messageId)
          .executeTakeFirst();
        const events = await db
          .selectFrom('connector_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('workspace_id', '=', t.workspaceId)
          .where('message_id', '=', messageId)
          .executeTakeFirstOrThrow();
        if (row && row.next_attempt_at === null && row.lease_owner === null && Number(events.n) === 0) {
          const res = await t.request('GET', `/workspaces/${t.workspaceId}/messages/${messageId}`);
          return res.body;
        }
        if (Date.now() > deadline) {
          throw new Error(`message ${messageId} still has work after ${timeoutMs} ms: ${JSON.stringify({ ...row, pendingEvents: Number(events.n) })}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await emulator.close();
      await pgdb?.drop();
    },
  };
  return t;
}

/**
 * One of several Aviary processes sharing a PostgreSQL database (roles api, worker or both), as
 * separate processes would be: its own pool and workers; only the database connects them.
 */
export function startProcess(databaseUrl: string, overrides: Partial<Config> = {}): Promise<Aviary> {
  const config: Config = { ...defaultConfig(), port: 0, databaseUrl, logLevel: 'silent', rateLimit: false, dispatchRetryBaseMs: 1, dispatchPollMs: 100, ...overrides };
  return startAviary(config, createLogger({ logLevel: 'silent' }));
}

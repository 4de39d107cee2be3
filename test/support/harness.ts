import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startAviary, type Aviary } from '../../src/app.ts';
import { bootstrapIfEmpty, type BootstrapResult } from '../../src/bootstrap.ts';
import { defaultConfig, type Config } from '../../src/config.ts';
import { clearCaches } from '../../src/context.ts';
import { createLogger } from '../../src/app.ts';
import { sql } from 'kysely';

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
}

export async function startTestAviary(kind: StoreKind, overrides: Partial<Config> = {}): Promise<TestAviary> {
  const pgdb = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
  const config: Config = {
    ...defaultConfig(),
    port: 0,
    memory: kind === 'pglite',
    databaseUrl: pgdb?.url,
    logLevel: process.env.AVIARY_TEST_LOG_LEVEL ?? 'silent',
    rateLimit: false,
    dispatchRetryBaseMs: 1,
    dispatchPollMs: 200,
    ...overrides,
  };
  const aviary = await startAviary(config, createLogger(config));
  const t: TestAviary = {
    kind,
    aviary,
    url: aviary.url,
    boot: aviary.bootstrap!,
    key: aviary.bootstrap!.accessKey,
    workspaceId: aviary.bootstrap!.workspace.id,
    organizationId: aviary.bootstrap!.organizationId,
    channel(platform) {
      const c = t.boot.channels.find((ch) => ch.platform === platform);
      if (!c) throw new Error(`no ${platform} channel`);
      return c.id;
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
    async reset() {
      const db = aviary.ctx.db;
      await aviary.ctx.messageWriter.drain();
      await sql`truncate messages, message_status_history, connector_events, suppressions, channel_contacts,
        contact_identifiers, contacts, channels, access_keys, workspaces, organizations`.execute(db);
      clearCaches(aviary.ctx);
      const boot = (await bootstrapIfEmpty(db))!;
      t.boot = boot;
      t.key = boot.accessKey;
      t.workspaceId = boot.workspace.id;
      t.organizationId = boot.organizationId;
    },
    async waitForStatus(messageId, status, timeoutMs = 10_000) {
      const want = Array.isArray(status) ? status : [status];
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        const res = await t.request('GET', `/workspaces/${t.workspaceId}/messages/${messageId}`);
        last = res.body;
        if (want.includes(last?.status)) return last;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`message ${messageId} did not reach ${want.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },
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
    async close() {
      await aviary.close();
      await pgdb?.drop();
    },
  };
  return t;
}

// The server side of a benchmark, run in its own process so that the load generator does not share
// its event loop. Started by bench/child.ts with an IPC channel:
//
//   node --import tsx bench/serve-for-bench.ts '{"mode":"postgres","databaseUrl":"postgres://..."}'
//
// Modes: hello (bare Fastify), pglite (in-memory PGlite), postgres (databaseUrl), nowrite (Aviary on
// PGlite with the message writer replaced by a stub that builds the row but never touches the
// database: everything a send costs except the write). Once listening it prints one JSON line with
// url/key/ids on stdout and sends the same over IPC, then answers IPC commands (count, stats-begin,
// stats-end, writer-bench, close).

import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { startAviary, createLogger, type Aviary } from '../src/app.ts';
import { defaultConfig, type Config } from '../src/config.ts';
import { GroupCommit } from '../src/db/group-commit.ts';
import type { MessageRow } from '../src/db/schema.ts';
import { contactIdFor, resolveContacts } from '../src/contacts/contacts.ts';
import { uuidv7 } from '../src/ids.ts';
import { resolveRecipients, writeMessages, type PendingMessage } from '../src/messages/accept-message.ts';
import { validateCreateMessage } from '../src/message-body/validate-message.ts';
import { FAIL_REFERENCE, KNOWN_RECEIVERS, knownNumber, smsBody, type BodyOptions } from './bodies.ts';
import type { Experiment } from './experiment.ts';
import { startHelloWorld } from './hello-world.ts';

export type ServeMode = 'hello' | 'pglite' | 'postgres' | 'nowrite';

export interface ServeOptions {
  mode: ServeMode;
  databaseUrl?: string;
  pgPoolSize?: number;
  logLevel?: string;
  /** Aviary roles (default: Aviary's default, api + worker: the dispatcher runs in the same process). */
  roles?: Array<'api' | 'worker'>;
  /**
   * Experiments that patch the running server in memory (src/ is not touched), to measure a proposed
   * change before anyone makes it:
   * - deferPump: the group-commit writer starts each batch from setImmediate instead of synchronously
   *   inside submit() or the previous batch's completion, so requests that arrived meanwhile on other
   *   sockets can join the batch;
   * - maxConcurrent: how many batches the writer may have in flight (Aviary: pool size, 1 on PGlite).
   */
  experiment?: Experiment;
  /**
   * Failure injection (bench only, src/ unchanged): the message writer is rebuilt, with Aviary's own
   * GroupCommit and options, around a work function that, after writeMessages, re-inserts any message
   * whose reference starts with FAIL_REFERENCE: a real duplicate-key violation that aborts the shared
   * transaction after it did its work, the way a constraint failure in writeMessages would.
   */
  injectFailures?: boolean;
  /** Write a V8 CPU profile of each measured window (stats-begin .. stats-end) to `${profileDir}/${label}.cpuprofile`. */
  profileDir?: string;
}

export interface ServeInfo {
  mode: ServeMode;
  pid: number;
  url: string;
  key?: string;
  workspaceId?: string;
  channels?: Record<string, string>;
  database?: string;
  roles?: string[];
  experiment?: Experiment;
}

export interface ServerStats {
  wallSec: number;
  cpuSec: number;
  eventLoopUtilization: number;
  rssMb: number;
  batches?: BatchStats;
  statements?: StatementStats[];
}

/** Client-side timing of each SQL statement (call to result, as the server process sees it). */
export interface StatementStats {
  sql: string;
  calls: number;
  totalMs: number;
  meanMs: number;
}

export interface BatchStats {
  count: number;
  items: number;
  meanSize: number;
  p50Size: number;
  maxSize: number;
  /** Time from the batch's transaction start to its commit, per batch. */
  writeMsP50: number;
  writeMsP99: number;
  writeMsMean: number;
  /** Sum over batches of their write time divided by wall time: how many writes were in flight on average. */
  meanInFlight: number;
}

type Command =
  | { id: number; cmd: 'count'; reference?: string }
  | { id: number; cmd: 'stats-begin'; label?: string }
  | { id: number; cmd: 'stats-end' }
  | { id: number; cmd: 'writer-bench'; seconds: number; count?: number; concurrency: number; tag: string; newEvery: number }
  | { id: number; cmd: 'seed-contacts' }
  | { id: number; cmd: 'close' };

let opts: ServeOptions = { mode: 'hello' };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// Batch sizes and durations of the group commit, observed by wrapping its (private) write method.
// Defensive: if the writer's shape changes, the stats are simply absent.
const batchSizes: number[] = [];
const batchMs: number[] = [];
function observeWriter(aviary: Aviary): boolean {
  const w = aviary.ctx.messageWriter as unknown as { write?: (items: unknown[]) => Promise<unknown[]> };
  if (typeof w.write !== 'function') return false;
  const original = w.write.bind(w);
  w.write = async (items: unknown[]) => {
    const t = performance.now();
    try {
      return await original(items);
    } finally {
      batchSizes.push(items.length);
      batchMs.push(performance.now() - t);
    }
  };
  return true;
}

function injectFailures(aviary: Aviary): void {
  const ctx = aviary.ctx;
  const current = ctx.messageWriter as unknown as { opts?: ConstructorParameters<typeof GroupCommit<PendingMessage, MessageRow>>[2] };
  if (!current.opts) throw new Error('cannot inject failures: GroupCommit has no opts');
  ctx.messageWriter = new GroupCommit<PendingMessage, MessageRow>(
    ctx.db,
    async (trx, items) => {
      const rows = await writeMessages(trx, ctx.outbox, items, ctx.clock.now());
      const bad = rows.filter((r) => r.reference?.startsWith(FAIL_REFERENCE));
      if (bad.length) await sql`insert into messages select * from json_populate_recordset(null::messages, ${JSON.stringify(bad)}::json)`.execute(trx);
      return rows;
    },
    // writeMessages writes in the caller's transaction: the writer opens it, so the failing insert
    // rolls back its whole batch (the product's writer opens one only when webhooks need it).
    { ...current.opts, ownTransaction: false },
  );
}

function deferPump(aviary: Aviary): boolean {
  const w = aviary.ctx.messageWriter as unknown as { pump?: () => void };
  if (typeof w.pump !== 'function') return false;
  const original = w.pump.bind(w);
  let scheduled = false;
  w.pump = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      original();
    });
  };
  return true;
}

// A poor man's pg_stat_statements (the shared PostgreSQL has no shared_preload_libraries to enable the
// real one): every query a pg.Client runs in this process, timed from call to result.
const statementStats = new Map<string, { calls: number; totalMs: number }>();
function observeStatements(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    const result = original.apply(this, args);
    if (text && result && typeof (result as Promise<unknown>).then === 'function') {
      const t = performance.now();
      const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
      const done = () => {
        const e = statementStats.get(key) ?? { calls: 0, totalMs: 0 };
        e.calls++;
        e.totalMs += performance.now() - t;
        statementStats.set(key, e);
      };
      (result as Promise<unknown>).then(done, done);
    }
    return result;
  };
}

function stubWriter(aviary: Aviary): void {
  // Builds what the real writer returns, minus contact resolution and the INSERT.
  const stub = {
    submit: async (p: PendingMessage): Promise<MessageRow> => {
      const now = new Date();
      const row = {
        workspace_id: p.channel.workspaceId,
        id: uuidv7(now.getTime()),
        channel_id: p.channel.id,
        platform: p.channel.platform,
        direction: 'outgoing',
        status: 'accepted',
        sender: { connector: { id: p.channel.connectorId, identifierValue: p.channel.senderIdentifier ?? '' } },
        receiver: {
          contacts: p.recipients.map((r) => ({
            id: uuidv7(),
            identifierKey: r.identifier.key,
            identifierValue: r.identifier.value,
            ...(r.countryCode ? { countryCode: r.countryCode } : {}),
            platformAddress: r.platformAddress,
          })),
        },
        body: p.request.body ?? null,
        template: null,
        meta: null,
        reference: null,
        reply_to: null,
        tags: p.request.tags ?? [],
        short_links: null,
        scheduled_for: null,
        batch_id: null,
        parts: null,
        reason: null,
        details: null,
        failure: null,
        origin: null,
        chargeable_units: null,
        created_at: now,
        updated_at: now,
        last_status_at: now,
      };
      return row as unknown as MessageRow;
    },
    drain: async () => {},
  };
  (aviary.ctx as unknown as { messageWriter: unknown }).messageWriter = stub;
}

/**
 * Submits messages straight to the group-commit writer (no HTTP), `concurrency` outstanding at a time,
 * for `seconds` or until `count` were sent.
 */
async function writerBench(aviary: Aviary, info: ServeInfo, seconds: number, concurrency: number, body: BodyOptions, count = Infinity) {
  const ctx = aviary.ctx;
  const channel = (await ctx.channels.get(info.workspaceId!, info.channels!.sms))!;
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  async function worker() {
    while (performance.now() < deadline && sent < count) {
      const i = sent++;
      const checked = validateCreateMessage(smsBody(i, body));
      if (!checked.ok) throw new Error('writer-bench body does not validate');
      const recipients = await resolveRecipients(ctx.db, channel, checked.value);
      const t = performance.now();
      try {
        await ctx.messageWriter.submit({ channel, request: checked.value, recipients });
        ok++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - t);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { sent, ok, failed, wallSec: wall, perSec: ok / wall, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main() {
  opts = JSON.parse(process.argv[2] ?? '{}') as ServeOptions;
  let info: ServeInfo;
  let aviary: Aviary | undefined;
  let closeHello: (() => Promise<void>) | undefined;
  let observed = false;
  if (opts.mode === 'hello') {
    const h = await startHelloWorld();
    closeHello = () => h.app.close();
    info = { mode: 'hello', pid: process.pid, url: h.url };
  } else {
    const config: Config = {
      ...defaultConfig(),
      host: '127.0.0.1',
      port: 0,
      memory: opts.mode !== 'postgres',
      databaseUrl: opts.mode === 'postgres' ? opts.databaseUrl : undefined,
      pgPoolSize: opts.pgPoolSize ?? defaultConfig().pgPoolSize,
      logLevel: opts.logLevel ?? 'warn',
      rateLimit: false,
      bootstrap: true,
      ...(opts.roles ? { roles: opts.roles } : {}),
    };
    aviary = await startAviary(config, createLogger(config));
    const boot = aviary.bootstrap;
    if (!boot) throw new Error('expected an empty store to bootstrap');
    if (opts.injectFailures) injectFailures(aviary);
    if (opts.mode === 'nowrite') stubWriter(aviary);
    else observed = observeWriter(aviary);
    if (opts.mode === 'postgres') observeStatements();
    if (opts.experiment?.deferPump && !deferPump(aviary)) throw new Error('cannot apply deferPump: GroupCommit has no pump()');
    for (const statement of opts.experiment?.sessionSql ?? []) {
      if (aviary.ctx.database.kind !== 'pglite') throw new Error('sessionSql experiments only make sense on PGlite (one session)');
      await sql.raw(statement).execute(aviary.ctx.db);
    }
    if (opts.experiment?.maxConcurrent) {
      const w = aviary.ctx.messageWriter as unknown as { opts?: { maxConcurrent: number } };
      if (!w.opts || typeof w.opts.maxConcurrent !== 'number') throw new Error('cannot apply maxConcurrent: GroupCommit has no opts.maxConcurrent');
      w.opts.maxConcurrent = opts.experiment.maxConcurrent;
    }
    info = {
      mode: opts.mode,
      pid: process.pid,
      url: aviary.url,
      key: boot.accessKey,
      workspaceId: boot.workspace.id,
      channels: Object.fromEntries(boot.channels.map((c) => [c.platform, c.id])),
      database: aviary.ctx.database.kind,
      roles: config.roles,
      experiment: opts.experiment,
    };
  }

  let profiler: Session | undefined;
  let profileLabel = 'server';
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let elu0 = performance.eventLoopUtilization();

  process.on('message', async (raw: unknown) => {
    const m = raw as Command;
    const reply = (result: unknown, error?: string) => process.send!({ id: m.id, result, error });
    try {
      switch (m.cmd) {
        case 'count': {
          if (!aviary) return reply(0);
          await aviary.ctx.messageWriter.drain();
          // Counted by reference prefix when given: the dispatcher may add rows of its own (replies).
          const r = m.reference
            ? await sql<{ n: number }>`select count(*)::int as n from messages where reference like ${`${m.reference}%`}`.execute(aviary.ctx.db)
            : await sql<{ n: number }>`select count(*)::int as n from messages`.execute(aviary.ctx.db);
          return reply(r.rows[0].n);
        }
        case 'stats-begin':
          if (opts.profileDir) {
            profileLabel = m.label ?? 'server';
            profiler ??= new Session();
            profiler.connect();
            await profiler.post('Profiler.enable');
            await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
            await profiler.post('Profiler.start');
          }
          batchSizes.length = 0;
          batchMs.length = 0;
          statementStats.clear();
          t0 = performance.now();
          cpu0 = process.cpuUsage();
          elu0 = performance.eventLoopUtilization();
          return reply(true);
        case 'stats-end': {
          if (profiler && opts.profileDir) {
            const { profile } = await profiler.post('Profiler.stop');
            writeFileSync(join(opts.profileDir, `${profileLabel}.cpuprofile`), JSON.stringify(profile));
            profiler.disconnect();
          }
          const wallSec = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          const stats: ServerStats = {
            wallSec,
            cpuSec: (cpu.user + cpu.system) / 1e6,
            eventLoopUtilization: performance.eventLoopUtilization(elu0).utilization,
            rssMb: Math.round(process.memoryUsage().rss / 1e6),
          };
          if (observed && batchSizes.length > 0) {
            const sizes = [...batchSizes].sort((a, b) => a - b);
            const ms = [...batchMs].sort((a, b) => a - b);
            const items = sizes.reduce((a, b) => a + b, 0);
            const msSum = ms.reduce((a, b) => a + b, 0);
            stats.batches = {
              count: sizes.length,
              items,
              meanSize: items / sizes.length,
              p50Size: percentile(sizes, 50),
              maxSize: sizes[sizes.length - 1],
              writeMsP50: percentile(ms, 50),
              writeMsP99: percentile(ms, 99),
              writeMsMean: msSum / ms.length,
              meanInFlight: msSum / 1000 / wallSec,
            };
          }
          if (statementStats.size) {
            stats.statements = [...statementStats]
              .map(([sql, e]) => ({ sql, calls: e.calls, totalMs: e.totalMs, meanMs: e.totalMs / e.calls }))
              .sort((a, b) => b.totalMs - a.totalMs)
              .slice(0, 12);
          }
          return reply(stats);
        }
        case 'writer-bench':
          if (!aviary) throw new Error('no Aviary in hello mode');
          return reply(await writerBench(aviary, info, m.seconds, m.concurrency, { tag: m.tag, newEvery: m.newEvery }, m.count));
        case 'seed-contacts': {
          // The known receivers' contacts, created the way the writer does it, without messages
          // (so a dispatcher in this process gets no backlog to work through).
          if (!aviary) return reply(0);
          const ws = info.workspaceId!;
          const ids = Array.from({ length: KNOWN_RECEIVERS }, (_, k) => ({ key: 'phonenumber', value: knownNumber(k) }));
          let n = 0;
          for (let a = 0; a < ids.length; a += 1000) {
            const chunk = ids.slice(a, a + 1000);
            const resolved = await aviary.ctx.db.transaction().execute((trx) => resolveContacts(trx, ws, chunk));
            for (const id of chunk) {
              const contactId = contactIdFor(resolved, ws, id);
              if (contactId) n++;
            }
          }
          return reply(n);
        }
        case 'close':
          if (aviary) await aviary.close();
          if (closeHello) await closeHello();
          reply(true);
          // Let the reply flush, then exit normally so that --cpu-prof writes its profile.
          setTimeout(() => process.exit(0), 50);
          return;
      }
    } catch (err) {
      reply(undefined, (err as Error).stack ?? String(err));
    }
  });
  process.on('disconnect', () => process.exit(0));

  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.send?.({ ready: info });
}

// Only when run as the entry point (importing this file for its types must not start a server).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

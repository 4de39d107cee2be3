import pg from 'pg';
import { encodePageToken } from '../src/db/keyset-page.ts';
import { startServer, type ServerChild } from './child.ts';
import { coresBetween, machineCoresBetween, snapshot, waitForQuiet } from './cpu.ts';
import { runAutocannon, runPaced, type LoadResult, type LoadSpec } from './load.ts';
import { createBenchDatabase, dropBenchDatabase, postgresPids } from './pg.ts';
import { target, type ScenarioResult } from './scenario.ts';

// GET .../messages on PostgreSQL with `rows` messages in the workspace, bulk-loaded in SQL with the
// shape POST /messages writes: 70% SMS, 20% WhatsApp, 10% email over the sandbox channels, one
// receiver out of 10,000 per message, one message every 2.5 s going back ~29 days (1M rows), 10% tagged
// "otp", 0.1% tagged "vip", 1% failed. Ids are UUIDv7 of created_at, as the server makes them.
//
// Each list scenario runs twice: paced (open loop, `rate`/s, latency from the scheduled send time:
// this is the p99 judged against the target) and autocannon closed loop (`connections` in flight:
// throughput and latency under saturation).

export interface ListOptions {
  rows: number;
  duration: number;
  rate: number;
  connections: number;
  pgPoolSize?: number;
  explain: boolean;
  /** Afterwards, add a GIN index on tags to the throwaway database and measure the tag filters again. */
  diagnose: boolean;
  profileDir?: string;
  scenarios: string[];
  log: (line: string) => void;
}

export interface LoadReport {
  rows: number;
  insertSec: number;
  vacuumSec: number;
  tableMb: number;
  indexMb: number;
  plans: Record<string, { ms: number; plan: string }>;
}

const SPACING_MS = 2500;

export async function bulkLoad(url: string, workspaceId: string, rows: number, log: (l: string) => void): Promise<{ insertSec: number; vacuumSec: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const t0 = performance.now();
    const endMs = Date.now() - 60_000;
    const startMs = endMs - rows * SPACING_MS;
    const chunk = 100_000;
    const ranges: Array<[number, number]> = [];
    for (let a = 1; a <= rows; a += chunk) ranges.push([a, Math.min(rows, a + chunk - 1)]);
    let done = 0;
    // Two chunks at a time: one per core.
    const worker = async () => {
      for (let r = ranges.shift(); r; r = ranges.shift()) {
        await pool.query(
          `insert into messages (workspace_id, id, channel_id, platform, direction, status, sender, receiver, body, reference,
             tags, validity, from_identifier, to_identifiers, country_codes, failure, failure_code, failure_source_name, reason,
             created_at, updated_at, last_status_at)
           select $1::uuid,
             (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
             ch.id, ch.platform, 'outgoing', case when g % 100 = 0 then 'failed' else 'delivered' end,
             jsonb_build_object('connector', jsonb_build_object('id', ch.connector_id, 'identifierValue', ch.sender_identifier)),
             jsonb_build_object('contacts', jsonb_build_array(
               case when ch.platform = 'email'
                 then jsonb_build_object('id', md5('c' || k)::uuid, 'identifierKey', 'emailaddress', 'identifierValue', 'user' || k || '@example.com', 'platformAddress', 'user' || k || '@example.com')
                 else jsonb_build_object('id', md5('c' || k)::uuid, 'identifierKey', 'phonenumber', 'identifierValue', phone, 'countryCode', 'NL', 'platformAddress', phone)
               end)),
             jsonb_build_object('type', 'text', 'text', jsonb_build_object('text', 'Your verification code is ' || lpad(((g * 48271) % 1000000)::text, 6, '0') || '. It expires in 10 minutes.')),
             'bench-' || g,
             case when g % 1000 = 0 then array['vip', 'otp'] when g % 10 = 0 then array['otp'] else '{}'::text[] end,
             129600, ch.sender_identifier,
             array[case when ch.platform = 'email' then 'user' || k || '@example.com' else phone end],
             case when ch.platform = 'email' then '{}'::text[] else array['NL'] end,
             case when g % 100 = 0 then '{"code": 3, "description": "Message expired", "source": {"name": "sandbox"}}'::jsonb end,
             case when g % 100 = 0 then 3 end,
             case when g % 100 = 0 then 'sandbox' end,
             case when g % 100 = 0 then 'Message expired' end,
             ts, ts, ts
           from generate_series($2::bigint, $3::bigint) g
           cross join lateral (select
               $4::bigint + g::bigint * ${SPACING_MS} as ms,
               md5(g::text) as h,
               (g * 7919) % 10000 as k,
               '+3161' || lpad(((g * 7919) % 10000)::text, 7, '0') as phone,
               timestamptz 'epoch' + ($4::bigint + g::bigint * ${SPACING_MS}) * interval '1 millisecond' as ts,
               case when g % 10 < 7 then 'sms' when g % 10 < 9 then 'whatsapp' else 'email' end as want) x
           join channels ch on ch.workspace_id = $1::uuid and ch.platform = x.want`,
          [workspaceId, r[0], r[1], startMs],
        );
        done += r[1] - r[0] + 1;
        log(`  loaded ${done.toLocaleString('en')} / ${rows.toLocaleString('en')} rows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    };
    await Promise.all([worker(), worker()]);
    const insertSec = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await pool.query('vacuum (analyze) messages');
    return { insertSec, vacuumSec: (performance.now() - t1) / 1000 };
  } finally {
    await pool.end();
  }
}

/**
 * 50 page tokens spread from 10% to 90% deep into a list of `table` in the workspace, in the list's
 * natural order (messages newest first, contacts oldest first). Shared by the messages and contacts benches.
 */
export async function deepTokens(url: string, workspaceId: string, table: 'messages' | 'contacts' = 'messages', order: 'newest first' | 'oldest first' = 'newest first'): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const b = await c.query<{ lo: Date; hi: Date }>(`select min(created_at) as lo, max(created_at) as hi from ${table} where workspace_id = $1`, [workspaceId]);
    const lo = b.rows[0].lo.getTime();
    const hi = b.rows[0].hi.getTime();
    const newest = order === 'newest first';
    const tokens: string[] = [];
    for (let i = 0; i < 50; i++) {
      const depth = (0.1 + (0.8 * i) / 49) * (hi - lo);
      const at = new Date(newest ? hi - depth : lo + depth);
      const r = await c.query<{ created_at: Date; id: string }>(
        newest
          ? `select created_at, id from ${table} where workspace_id = $1 and created_at <= $2 order by created_at desc, id desc limit 1`
          : `select created_at, id from ${table} where workspace_id = $1 and created_at >= $2 order by created_at, id limit 1`,
        [workspaceId, at],
      );
      tokens.push(encodePageToken({ createdAt: r.rows[0].created_at, id: r.rows[0].id }));
    }
    return tokens;
  } finally {
    await c.end();
  }
}

interface ListScenario {
  key: string;
  name: string;
  path: (i: number) => string;
  sql: string;
  params: unknown[];
}

async function explain(url: string, s: ListScenario): Promise<{ ms: number; plan: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(`explain (analyze, buffers, format text) ${s.sql}`, s.params);
    const lines = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']);
    const ms = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN);
    return { ms, plan: lines.join('\n') };
  } finally {
    await c.end();
  }
}

/** A full first or deep page of 10 with a token for the next: what every list scenario must answer. */
export const listVerify = (status: number, body: string) => {
  if (status !== 200) return false;
  try {
    const j = JSON.parse(body) as { results?: unknown[]; nextPageToken?: string | null };
    return Array.isArray(j.results) && j.results.length === 10 && typeof j.nextPageToken === 'string';
  } catch {
    return false;
  }
};

export async function runListBenchmarks(o: ListOptions): Promise<{ results: ScenarioResult[]; load: LoadReport }> {
  const db = await createBenchDatabase('list');
  let server: ServerChild | undefined;
  const results: ScenarioResult[] = [];
  try {
    server = await startServer({ mode: 'postgres', databaseUrl: db.url, pgPoolSize: o.pgPoolSize }, o.profileDir ? { dir: o.profileDir, name: 'list' } : undefined);
    const info = server.info;
    const ws = info.workspaceId!;
    o.log(`list: bulk-loading ${o.rows.toLocaleString('en')} messages into ${db.name} ...`);
    const { insertSec, vacuumSec } = await bulkLoad(db.url, ws, o.rows, o.log);
    o.log(`  insert ${insertSec.toFixed(1)} s, vacuum analyze ${vacuumSec.toFixed(1)} s`);
    const sizes = await (async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const r = await c.query(`select pg_table_size('messages') as t, pg_indexes_size('messages') as i`);
        return { tableMb: Number(r.rows[0].t) / 1e6, indexMb: Number(r.rows[0].i) / 1e6 };
      } finally {
        await c.end();
      }
    })();
    const tokens = await deepTokens(db.url, ws);
    const decoded = tokens.map((t) => JSON.parse(Buffer.from(t, 'base64').toString()) as [string, string]);
    const sms = info.channels!.sms;
    const base = `/workspaces/${ws}`;
    const order = 'order by created_at desc, id desc limit 11';
    const scenarios: ListScenario[] = [
      { key: 'first', name: 'GET /messages?limit=10 (first page)', path: () => `${base}/messages?limit=10`, sql: `select * from messages where workspace_id = $1 ${order}`, params: [ws] },
      {
        key: 'deep',
        name: 'GET /messages?limit=10&pageToken (10-90% deep)',
        path: (i) => `${base}/messages?limit=10&pageToken=${encodeURIComponent(tokens[i % tokens.length])}`,
        sql: `select * from messages where workspace_id = $1 and (created_at, id) < ($2, $3::uuid) ${order}`,
        params: [ws, decoded[25][0], decoded[25][1]],
      },
      {
        key: 'channel',
        name: 'GET /channels/{sms}/messages?limit=10',
        path: () => `${base}/channels/${sms}/messages?limit=10`,
        sql: `select * from messages where workspace_id = $1 and channel_id = $2 ${order}`,
        params: [ws, sms],
      },
      {
        key: 'tag-otp',
        name: 'GET /messages?limit=10&tag=otp (10% of rows)',
        path: () => `${base}/messages?limit=10&tag=otp`,
        sql: `select * from messages where workspace_id = $1 and tags && $2::text[] ${order}`,
        params: [ws, ['otp']],
      },
      {
        key: 'tag-vip',
        name: 'GET /messages?limit=10&tag=vip (0.1% of rows)',
        path: () => `${base}/messages?limit=10&tag=vip`,
        sql: `select * from messages where workspace_id = $1 and tags && $2::text[] ${order}`,
        params: [ws, ['vip']],
      },
    ];
    const plans: LoadReport['plans'] = {};
    const want = (k: string) => o.scenarios.length === 0 || o.scenarios.includes(k);
    const measure = async (s: ListScenario, modes: Array<'paced' | 'closed'>, label = '') => {
      if (o.explain) plans[`${s.key}${label ? ` ${label}` : ''}`] = await explain(db.url, s);
      const spec: LoadSpec = { url: info.url, method: 'GET', path: s.path, headers: { authorization: `AccessKey ${info.key}` }, verify: listVerify };
      // Warm the plan cache, connection pool and JIT.
      await runAutocannon(spec, { connections: o.connections, pipelining: 1, amount: 500 });
      for (const mode of modes) {
        o.log(`list: ${s.name}${label ? ` ${label}` : ''} [${mode}] ...`);
        const q = await waitForQuiet();
        const pgPids = await postgresPids(db.name);
        await server!.statsBegin(`list-${s.key}-${mode}${label ? '-experiment' : ''}`);
        const a = snapshot([server!.pid, ...pgPids]);
        const load: LoadResult =
          mode === 'paced'
            ? await runPaced(spec, { rate: o.rate, seconds: o.duration, maxSockets: o.connections })
            : await runAutocannon(spec, { connections: o.connections, pipelining: 1, duration: o.duration });
        const pgPidsAll = [...new Set([...pgPids, ...(await postgresPids(db.name))])];
        const b = snapshot([server!.pid, ...pgPidsAll]);
        const stats = await server!.statsEnd();
        const machine = machineCoresBetween(a, b);
        const srv = coresBetween(a, b, [server!.pid]);
        const pgc = coresBetween(a, b, pgPidsAll);
        const lg = load.loadgenCpuSec / ((b.at - a.at) / 1000);
        const bad = load.completed - (load.byStatus['200'] ?? 0) + load.errors + load.timeouts + load.unanswered;
        const r: ScenarioResult = {
          group: 'list',
          name: `${s.name}${label ? `, ${label}` : ''}`,
          store: 'postgres',
          settings: mode === 'paced' ? `paced ${o.rate}/s, ≤${o.connections} sockets` : `c=${o.connections} p=1`,
          load,
          server: stats,
          cpu: { machine, server: srv, postgres: pgc, loadgen: lg, other: machine - srv - pgc - lg },
          check: {
            expected: load.completed,
            rows: o.rows,
            ok: bad === 0 && load.mismatches === 0,
            detail: `${bad} non-200, ${load.mismatches} pages without 10 results + nextPageToken`,
          },
          targets: [],
          notes: q.busy >= 0.3 ? [`machine was ${q.busy.toFixed(2)} cores busy with other work when this run started`] : [],
        };
        if (label) r.notes.push(`experiment (throwaway database only): ${label}`);
        if (mode === 'paced' && !label && ['first', 'deep', 'channel'].includes(s.key)) r.targets.push(target(`p99 < 5 ms (${(o.rows / 1e6).toFixed(1)}M rows)`, load.p99, 5, 'max'));
        o.log(`  ${load.rps.toFixed(0)} req/s, p50 ${load.p50.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms; ${r.check!.detail}`);
        results.push(r);
      }
    };
    for (const s of scenarios) if (want(s.key)) await measure(s, ['paced', 'closed']);
    if (o.diagnose) {
      o.log('list: experiment: create index on messages using gin (tags) ...');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query('create index messages_tags_gin_bench on messages using gin (tags)');
        await c.query('analyze messages');
      } finally {
        await c.end();
      }
      for (const s of scenarios) if (s.key.startsWith('tag-') && want(s.key)) await measure(s, ['paced', 'closed'], 'with GIN index on tags');
    }
    return { results, load: { rows: o.rows, insertSec, vacuumSec, ...sizes, plans } };
  } finally {
    if (server) await server.close();
    await dropBenchDatabase(db.name);
  }
}

import pg from 'pg';
import { startServer, type ServerChild } from './child.ts';
import { coresBetween, machineCoresBetween, snapshot, waitForQuiet } from './cpu.ts';
import { runAutocannon, runPaced, type LoadResult, type LoadSpec } from './load.ts';
import { createBenchDatabase, dropBenchDatabase, postgresPids } from './pg.ts';
import { target, type ScenarioResult } from './scenario.ts';
import { deepTokens, listVerify } from './list-messages.ts';

// GET /contacts and GET /lists/{id}/contacts on PostgreSQL with `rows` contacts in the workspace,
// bulk-loaded in SQL with the shape the Contacts API writes: UUIDv7 ids (one contact every 2.5 s
// going back ~29 days for 1M), a display name and two attributes, one phone number identifier
// each, and every contact in one list. Same load as the messages list (bench/list-messages.ts):
// each scenario paced at `rate`/s (its p99 is judged) and closed loop with `connections` in flight.

export interface ContactListOptions {
  rows: number;
  duration: number;
  rate: number;
  connections: number;
  pgPoolSize?: number;
  explain: boolean;
  scenarios: string[];
  log: (line: string) => void;
}

export interface ContactLoadReport {
  rows: number;
  insertSec: number;
  vacuumSec: number;
  plans: Record<string, { ms: number; plan: string }>;
}

const SPACING_MS = 2500;
const LIST_ID = '0190a000-0000-7000-8000-00000000b1b1';

async function bulkLoad(url: string, ws: string, rows: number, log: (l: string) => void): Promise<{ insertSec: number; vacuumSec: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const t0 = performance.now();
    const startMs = Date.now() - 60_000 - rows * SPACING_MS;
    await pool.query(`insert into lists (workspace_id, id, name) values ($1, $2, 'Everyone')`, [ws, LIST_ID]);
    const chunk = 100_000;
    const ranges: Array<[number, number]> = [];
    for (let a = 1; a <= rows; a += chunk) ranges.push([a, Math.min(rows, a + chunk - 1)]);
    let done = 0;
    const worker = async () => {
      for (let r = ranges.shift(); r; r = ranges.shift()) {
        // One statement per chunk writes the contacts, their identifiers and memberships.
        await pool.query(
          `with src as (
             select g, (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid as id,
               timestamptz 'epoch' + ms * interval '1 millisecond' as ts
             from generate_series($2::bigint, $3::bigint) g
             cross join lateral (select $4::bigint + g * ${SPACING_MS} as ms, md5('contact' || g) as h) x
           ), c as (
             insert into contacts (workspace_id, id, display_name, attributes, created_at, updated_at)
             select $1::uuid, id, 'Contact ' || g, jsonb_build_object('firstName', 'C' || g, 'city', 'Utrecht'), ts, ts from src
           ), i as (
             insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id, created_at)
             select $1::uuid, 'phonenumber', '+3162' || lpad(g::text, 7, '0'), id, ts from src
           )
           insert into list_members (workspace_id, list_id, contact_id, created_at) select $1::uuid, $5::uuid, id, ts from src`,
          [ws, r[0], r[1], startMs, LIST_ID],
        );
        done += r[1] - r[0] + 1;
        log(`  loaded ${done.toLocaleString('en')} / ${rows.toLocaleString('en')} contacts (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    };
    await Promise.all([worker(), worker()]);
    await pool.query('update lists set contact_count = $3 where workspace_id = $1 and id = $2', [ws, LIST_ID, rows]);
    const insertSec = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await pool.query('vacuum (analyze) contacts, contact_identifiers, list_members');
    return { insertSec, vacuumSec: (performance.now() - t1) / 1000 };
  } finally {
    await pool.end();
  }
}


const verify = listVerify;

interface Scenario {
  key: string;
  name: string;
  path: (i: number) => string;
  /** The contacts part of the page query, for EXPLAIN (the per-row identifier and list subqueries are index lookups). */
  sql: string;
  params: unknown[];
}

export async function runContactListBenchmarks(o: ContactListOptions): Promise<{ results: ScenarioResult[]; load: ContactLoadReport }> {
  const db = await createBenchDatabase('contacts');
  let server: ServerChild | undefined;
  const results: ScenarioResult[] = [];
  try {
    server = await startServer({ mode: 'postgres', databaseUrl: db.url, pgPoolSize: o.pgPoolSize });
    const info = server.info;
    const ws = info.workspaceId!;
    o.log(`contacts: bulk-loading ${o.rows.toLocaleString('en')} contacts into ${db.name} ...`);
    const { insertSec, vacuumSec } = await bulkLoad(db.url, ws, o.rows, o.log);
    o.log(`  insert ${insertSec.toFixed(1)} s, vacuum analyze ${vacuumSec.toFixed(1)} s`);
    const tokens = await deepTokens(db.url, ws, 'contacts', 'oldest first');
    const mid = JSON.parse(Buffer.from(tokens[25], 'base64').toString()) as [string, string];
    const base = `/workspaces/${ws}`;
    const page = (path: string) => (i: number) => `${base}${path}?limit=10&pageToken=${encodeURIComponent(tokens[i % tokens.length])}`;
    const scenarios: Scenario[] = [
      { key: 'contacts-first', name: 'GET /contacts?limit=10 (first page)', path: () => `${base}/contacts?limit=10`, sql: 'select * from contacts c where c.workspace_id = $1 order by c.id limit 11', params: [ws] },
      {
        key: 'contacts-deep',
        name: 'GET /contacts?limit=10&pageToken (10-90% deep)',
        path: page('/contacts'),
        sql: 'select * from contacts c where c.workspace_id = $1 and c.id > $2 order by c.id limit 11',
        params: [ws, mid[1]],
      },
      {
        key: 'list-first',
        name: 'GET /lists/{id}/contacts?limit=10 (1M members)',
        path: () => `${base}/lists/${LIST_ID}/contacts?limit=10`,
        sql: 'select c.* from (select contact_id from list_members where workspace_id = $1 and list_id = $2 order by contact_id limit 11) m join contacts c on c.workspace_id = $1 and c.id = m.contact_id order by m.contact_id limit 11',
        params: [ws, LIST_ID],
      },
      {
        key: 'list-deep',
        name: 'GET /lists/{id}/contacts?limit=10&pageToken (10-90% deep)',
        path: page(`/lists/${LIST_ID}/contacts`),
        sql: 'select c.* from (select contact_id from list_members where workspace_id = $1 and list_id = $2 and contact_id > $3 order by contact_id limit 11) m join contacts c on c.workspace_id = $1 and c.id = m.contact_id order by m.contact_id limit 11',
        params: [ws, LIST_ID, mid[1]],
      },
    ];
    const plans: ContactLoadReport['plans'] = {};
    for (const s of scenarios) {
      if (o.scenarios.length && !o.scenarios.includes(s.key)) continue;
      if (o.explain) {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          const r = await c.query(`explain (analyze, buffers, format text) ${s.sql}`, s.params);
          const lines = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']);
          plans[s.key] = { ms: Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN), plan: lines.join('\n') };
        } finally {
          await c.end();
        }
      }
      const spec: LoadSpec = { url: info.url, method: 'GET', path: s.path, headers: { authorization: `AccessKey ${info.key}` }, verify };
      await runAutocannon(spec, { connections: o.connections, pipelining: 1, amount: 500 });
      for (const mode of ['paced', 'closed'] as const) {
        o.log(`contacts: ${s.name} [${mode}] ...`);
        const q = await waitForQuiet();
        const pgPids = await postgresPids(db.name);
        await server.statsBegin(`contacts-${s.key}-${mode}`);
        const a = snapshot([server.pid, ...pgPids]);
        const load: LoadResult =
          mode === 'paced'
            ? await runPaced(spec, { rate: o.rate, seconds: o.duration, maxSockets: o.connections })
            : await runAutocannon(spec, { connections: o.connections, pipelining: 1, duration: o.duration });
        const pgAll = [...new Set([...pgPids, ...(await postgresPids(db.name))])];
        const b = snapshot([server.pid, ...pgAll]);
        const stats = await server.statsEnd();
        const machine = machineCoresBetween(a, b);
        const srv = coresBetween(a, b, [server.pid]);
        const pgc = coresBetween(a, b, pgAll);
        const lg = load.loadgenCpuSec / ((b.at - a.at) / 1000);
        const bad = load.completed - (load.byStatus['200'] ?? 0) + load.errors + load.timeouts + load.unanswered;
        const r: ScenarioResult = {
          group: 'list',
          name: s.name,
          store: 'postgres',
          settings: mode === 'paced' ? `paced ${o.rate}/s, ≤${o.connections} sockets` : `c=${o.connections} p=1`,
          load,
          server: stats,
          cpu: { machine, server: srv, postgres: pgc, loadgen: lg, other: machine - srv - pgc - lg },
          check: { expected: load.completed, rows: o.rows, ok: bad === 0 && load.mismatches === 0, detail: `${bad} non-200, ${load.mismatches} pages without 10 results + nextPageToken` },
          targets: mode === 'paced' ? [target(`p99 < 5 ms (${(o.rows / 1e6).toFixed(1)}M contacts)`, load.p99, 5, 'max')] : [],
          notes: q.busy >= 0.3 ? [`machine was ${q.busy.toFixed(2)} cores busy with other work when this run started`] : [],
        };
        o.log(`  ${load.rps.toFixed(0)} req/s, p50 ${load.p50.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms; ${r.check!.detail}`);
        results.push(r);
      }
    }
    return { results, load: { rows: o.rows, insertSec, vacuumSec, plans } };
  } finally {
    if (server) await server.close();
    await dropBenchDatabase(db.name);
  }
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';

// Throwaway PostgreSQL databases (aviary_bench_*) and the server-side counters a run reports.

export const ADMIN_URL = process.env.AVIARY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const created = new Set<string>();

export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function postgresVersion(): Promise<string | undefined> {
  try {
    return await withAdmin(async (c) => (await c.query('show server_version')).rows[0].server_version as string);
  } catch {
    return undefined;
  }
}

export async function createBenchDatabase(tag: string): Promise<{ name: string; url: string }> {
  const name = `aviary_bench_${tag}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name}`));
  created.add(name);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropBenchDatabase(name: string): Promise<void> {
  // BENCH_KEEP_DB=1 keeps the databases for a look afterwards (EXPLAIN a statement on the data it ran on).
  if (process.env.BENCH_KEEP_DB) return;
  if (!/^aviary_bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop ${name}`);
  await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
  created.delete(name);
}

/** Drops every database this process created and has not dropped yet (on abort). */
export async function dropAllCreated(): Promise<void> {
  for (const name of [...created]) await dropBenchDatabase(name).catch(() => {});
}

/** Backends connected to `db` plus PostgreSQL's own background processes (WAL writer, checkpointer...). */
export async function postgresPids(db: string): Promise<number[]> {
  return withAdmin(async (c) => {
    const r = await c.query<{ pid: number }>(
      `select pid from pg_stat_activity where (datname = $1 and pid <> pg_backend_pid()) or backend_type in ('walwriter','checkpointer','background writer','autovacuum launcher')`,
      [db],
    );
    return r.rows.map((x) => x.pid);
  });
}

export interface PgCounters {
  xactCommit: number;
  tupInserted: number;
  walRecords: number;
  walBytes: number;
  walSync: number;
  walWrite: number;
  /** Full-page images (the first change of a page after a checkpoint writes all of it). */
  walFpi: number;
  /** Where the WAL stood, for walBreakdown. */
  lsn: string;
}

export async function pgCounters(db: string): Promise<PgCounters> {
  return withAdmin(async (c) => {
    const d = await c.query('select xact_commit::bigint as x, tup_inserted::bigint as t from pg_stat_database where datname = $1', [db]);
    const w = await c.query(
      'select wal_records::bigint as r, wal_bytes::bigint as b, wal_sync::bigint as s, wal_write::bigint as w, wal_fpi::bigint as f, pg_current_wal_lsn()::text as lsn from pg_stat_wal',
    );
    return {
      xactCommit: Number(d.rows[0]?.x ?? 0),
      tupInserted: Number(d.rows[0]?.t ?? 0),
      walRecords: Number(w.rows[0]?.r ?? 0),
      walBytes: Number(w.rows[0]?.b ?? 0),
      walSync: Number(w.rows[0]?.s ?? 0),
      walWrite: Number(w.rows[0]?.w ?? 0),
      walFpi: Number(w.rows[0]?.f ?? 0),
      lsn: String(w.rows[0]?.lsn ?? '0/0'),
    };
  });
}

export function diffCounters(a: PgCounters, b: PgCounters): PgCounters {
  return {
    xactCommit: b.xactCommit - a.xactCommit,
    tupInserted: b.tupInserted - a.tupInserted,
    walRecords: b.walRecords - a.walRecords,
    walBytes: b.walBytes - a.walBytes,
    walSync: b.walSync - a.walSync,
    walWrite: b.walWrite - a.walWrite,
    walFpi: b.walFpi - a.walFpi,
    lsn: b.lsn,
  };
}

export interface WalShare {
  kind: string;
  records: number;
  /** Record and full-page-image bytes together. */
  bytes: number;
  fpiBytes: number;
}

/**
 * The WAL written between two counters, by record type (pg_walinspect, PostgreSQL 15+; contrib
 * ships it, and the admin database gets the extension on first use). The whole server's WAL, like
 * pg_stat_wal: run nothing else beside a bench. Undefined where the extension cannot be had.
 */
export async function walBreakdown(from: PgCounters, to: PgCounters, top = 12): Promise<WalShare[] | undefined> {
  try {
    return await withAdmin(async (c) => {
      await c.query('create extension if not exists pg_walinspect');
      const r = await c.query<{ kind: string; records: string; bytes: string; fpi: string }>(
        `select "resource_manager/record_type" as kind, count::bigint as records, combined_size::bigint as bytes, fpi_size::bigint as fpi
         from pg_get_wal_stats($1::pg_lsn, $2::pg_lsn, true) order by combined_size desc limit $3`,
        [from.lsn, to.lsn, top],
      );
      return r.rows.map((x) => ({ kind: x.kind, records: Number(x.records), bytes: Number(x.bytes), fpiBytes: Number(x.fpi) }));
    });
  } catch {
    return undefined;
  }
}

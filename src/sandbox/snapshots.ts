import { createReadStream, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { errors } from '../errors.ts';

// Snapshots of the whole emulator state (docs/sandbox.md): every table but the migrations' and the
// connector session leases (which belong to running processes, not to the state), with ids,
// timestamps and identity counters as they were.
//
// Where they live: files under --snapshot-dir, one per snapshot, not a table in the database. A
// test suite on in-memory PGlite wants a snapshot from an earlier run (startEmulator({ snapshot })),
// which no table of a fresh in-memory store could hold, and `aviary serve --restore` must work on a
// store it is about to replace. The cost: processes sharing one PostgreSQL see each other's snapshots
// only if they share the directory.
//
// The file: a header line (JSON), then one line per non-empty table, `<table>\t<JSON array of rows>`,
// exactly as PostgreSQL's json_agg wrote it; a restore hands that text back to json_populate_recordset
// without parsing it in JavaScript. Snapshots this process saved or restored are kept in memory
// (checked against the file's size and mtime), so a suite restoring between tests reads no file:
// a restore is one TRUNCATE and one INSERT per non-empty table, in one transaction.
//
// Restoring while the workers run: TRUNCATE's locks can deadlock with their queries; the database
// aborts one side and the restore runs again. Work a worker had claimed before the restore finds its
// rows gone and is dropped (as after a reset); work in flight when the snapshot was saved comes back
// leased and is retried when the lease runs out. Snapshot files hold the database's secrets (key
// hashes, webhook signing keys, connector passwords): they are written readable by the owner only.

export const SNAPSHOT_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const NAME_RE = new RegExp(SNAPSHOT_NAME);
const FORMAT = 'aviary-snapshot/1';
const NOT_STATE = new Set(['aviary_migrations', 'connector_sessions']);
const CACHE_MAX_BYTES = 256 * 1024 * 1024;

interface Header {
  format: string;
  name: string;
  createdAt: string;
  /** The clock's time when saved (a virtual clock's, under --clock virtual); absent in older files. */
  clockAt?: string;
  migrations: string[];
  /** Identity sequences: their last value (null: never used). */
  sequences: Record<string, number | null>;
  /** Rows per table (tables not listed were empty). */
  rows: Record<string, number>;
}

interface Loaded {
  header: Header;
  tables: [string, string][];
  size: number;
  mtimeMs: number;
}

export interface SnapshotInfo {
  name: string;
  createdAt: string;
  clockAt: string;
  /** Rows per non-empty table. */
  rows: Record<string, number>;
  sizeBytes: number;
}

export interface SnapshotHooks {
  /** Before the state is read or replaced: writes still queued in this process are committed first. */
  quiesce(): Promise<void>;
  /** The clock's time, kept in the file: a virtual clock goes back to it on restore. */
  now(): Date;
  /** After a restore: per-process caches are forgotten, the clock set and the workers woken for the restored work. */
  restored(clockAt: Date): void;
}

export class SnapshotStore {
  private readonly cache = new Map<string, Loaded>();
  private schema: Promise<{ tables: string[]; migrations: string[] }> | undefined;
  /** One save or restore at a time in this process. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly dir: string | undefined,
    private readonly hooks: SnapshotHooks,
  ) {}

  get enabled(): boolean {
    return this.dir !== undefined;
  }

  save(name: string): Promise<SnapshotInfo> {
    return this.serial(async () => {
      const dir = this.directory();
      checkName(name);
      await this.hooks.quiesce();
      const { tables, migrations } = await this.tableOrder();
      // One consistent view of every table: a single repeatable-read transaction.
      const { sequences, dumped } = await this.db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          const seqs = await sql<{ name: string; last: string | null }>`
            select sequencename as name, last_value::text as last from pg_sequences where schemaname = current_schema()`.execute(trx);
          const out: [string, string, number][] = [];
          for (const table of tables) {
            const r = await sql<{ rows: string | null; n: number }>`
              select json_agg(t)::text as rows, count(*)::int as n from ${sql.table(table)} t`.execute(trx);
            const row = r.rows[0];
            // json_agg separates rows with a newline; inside JSON a raw newline can only be whitespace
            // (one in a string is escaped), so it is safe to flatten each table onto its line.
            if (row.rows && row.n > 0) out.push([table, row.rows.replace(/[\r\n]/g, ' '), row.n]);
          }
          return { sequences: Object.fromEntries(seqs.rows.map((s) => [s.name, s.last === null ? null : Number(s.last)])), dumped: out };
        });
      const header: Header = {
        format: FORMAT,
        name,
        createdAt: new Date().toISOString(),
        clockAt: this.hooks.now().toISOString(),
        migrations,
        sequences,
        rows: Object.fromEntries(dumped.map(([t, , n]) => [t, n])),
      };
      await mkdir(dir, { recursive: true });
      const path = this.pathOf(name);
      const tmp = `${path}.${process.pid}.tmp`;
      const file = await open(tmp, 'w', 0o600);
      try {
        await file.write(`${JSON.stringify(header)}\n`);
        for (const [table, rows] of dumped) await file.write(`${table}\t${rows}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, path);
      const st = await stat(path);
      this.remember(name, { header, tables: dumped.map(([t, rows]) => [t, rows]), size: st.size, mtimeMs: st.mtimeMs });
      return infoOf(name, header, st.size);
    });
  }

  restore(name: string): Promise<SnapshotInfo> {
    return this.serial(async () => {
      const loaded = await this.load(name);
      const { tables, migrations } = await this.tableOrder();
      if (loaded.header.migrations.join(',') !== migrations.join(',')) {
        throw errors.conflict(
          `Snapshot "${name}" was saved by another version of Aviary (schema ${loaded.header.migrations.at(-1) ?? 'none'}; this one is at ${migrations.at(-1)}): it cannot be restored here`,
        );
      }
      const rows = new Map(loaded.tables);
      await this.hooks.quiesce();
      for (let attempt = 1; ; attempt++) {
        try {
          await this.db.transaction().execute(async (trx) => {
            await sql`truncate ${sql.join(tables.map((t) => sql.table(t)))}`.execute(trx);
            // Parents before children (tableOrder), so foreign keys hold row by row; identity columns
            // take the saved values (overriding system value).
            for (const table of tables) {
              const json = rows.get(table);
              if (json === undefined) continue;
              await sql`insert into ${sql.table(table)} overriding system value
                select * from json_populate_recordset(null::${sql.table(table)}, ${json}::json)`.execute(trx);
            }
            const seqs = Object.entries(loaded.header.sequences);
            if (seqs.length) {
              await sql`select ${sql.join(
                seqs.map(([s, last]) => (last === null ? sql`setval(${s}::regclass, 1, false)` : sql`setval(${s}::regclass, ${last}::bigint, true)`)),
              )}`.execute(trx);
            }
          });
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
        }
      }
      this.hooks.restored(new Date(loaded.header.clockAt ?? loaded.header.createdAt));
      return infoOf(name, loaded.header, loaded.size);
    });
  }

  async list(): Promise<SnapshotInfo[]> {
    const dir = this.directory();
    let names: string[];
    try {
      names = (await readdir(dir)).filter((f) => f.endsWith('.snapshot')).map((f) => f.slice(0, -'.snapshot'.length));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return [];
      throw err;
    }
    const out: SnapshotInfo[] = [];
    for (const name of names.filter((n) => NAME_RE.test(n)).sort()) {
      const info = await this.info(name).catch(() => undefined);
      if (info) out.push(info);
    }
    return out;
  }

  /** What the file says about itself: its header line only. */
  async info(name: string): Promise<SnapshotInfo> {
    const { path, st, cached } = await this.locate(name);
    if (cached) return infoOf(name, cached.header, st.size);
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    try {
      for await (const line of lines) return infoOf(name, parseHeader(name, line), st.size);
    } finally {
      lines.close();
    }
    throw badFile(name);
  }

  async delete(name: string): Promise<void> {
    await this.info(name);
    await rm(this.pathOf(name), { force: true });
    this.cache.delete(name);
  }

  /** The file of a snapshot (404 when there is none), and what was read of it before if it has not changed since. */
  private async locate(name: string): Promise<{ path: string; st: Stats; cached?: Loaded }> {
    this.directory();
    checkName(name);
    const path = this.pathOf(name);
    const st = await stat(path).catch(() => undefined);
    if (!st) throw errors.notFound('snapshot');
    const cached = this.cache.get(name);
    return { path, st, cached: cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs ? cached : undefined };
  }

  private async load(name: string): Promise<Loaded> {
    const { path, st, cached } = await this.locate(name);
    if (cached) return cached;
    let header: Header | undefined;
    const tables: [string, string][] = [];
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!header) {
        header = parseHeader(name, line);
        continue;
      }
      if (line === '') continue;
      const tab = line.indexOf('\t');
      if (tab <= 0) throw badFile(name);
      tables.push([line.slice(0, tab), line.slice(tab + 1)]);
    }
    if (!header) throw badFile(name);
    const loaded = { header, tables, size: st.size, mtimeMs: st.mtimeMs };
    this.remember(name, loaded);
    return loaded;
  }

  private remember(name: string, loaded: Loaded): void {
    this.cache.delete(name);
    let total = loaded.size;
    for (const v of this.cache.values()) total += v.size;
    if (total > CACHE_MAX_BYTES) this.cache.clear();
    if (loaded.size <= CACHE_MAX_BYTES) this.cache.set(name, loaded);
  }

  /** The state's tables, parents before children, and the migrations applied: read once, the schema does not change while running. */
  private tableOrder(): Promise<{ tables: string[]; migrations: string[] }> {
    this.schema ??= (async () => {
      const tables = (await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema() order by tablename`.execute(this.db)).rows
        .map((r) => r.name)
        .filter((t) => !NOT_STATE.has(t));
      const fks = (
        await sql<{ child: string; parent: string }>`
          select c.relname as child, p.relname as parent from pg_constraint k
          join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid
          join pg_namespace n on n.oid = c.relnamespace
          where k.contype = 'f' and n.nspname = current_schema()`.execute(this.db)
      ).rows;
      const migrations = (await sql<{ name: string }>`select name from aviary_migrations order by name`.execute(this.db)).rows.map((r) => r.name);
      return { tables: topological(tables, fks), migrations };
    })().catch((err) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private directory(): string {
    if (this.dir === undefined) throw errors.conflict('Snapshots are off: start Aviary with --snapshot-dir (AVIARY_SNAPSHOT_DIR) to keep them');
    return this.dir;
  }

  private pathOf(name: string): string {
    return join(this.dir!, `${name}.snapshot`);
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw errors.invalidPayload({ '.name': ['must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'] });
  }
}

function parseHeader(name: string, line: string): Header {
  let h: Header;
  try {
    h = JSON.parse(line) as Header;
  } catch {
    throw badFile(name);
  }
  if (h?.format !== FORMAT) throw badFile(name);
  return h;
}

function badFile(name: string) {
  return errors.conflict(`Snapshot "${name}" is not a snapshot file this version of Aviary can read`);
}

function infoOf(name: string, h: Header, sizeBytes: number): SnapshotInfo {
  return { name, createdAt: h.createdAt, clockAt: h.clockAt ?? h.createdAt, rows: h.rows, sizeBytes };
}

/** Parents before children; a table referencing itself is no constraint on the order. */
function topological(tables: string[], fks: { child: string; parent: string }[]): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (t: string, path: Set<string>) => {
    if (done.has(t) || path.has(t)) return;
    path.add(t);
    for (const fk of fks) if (fk.child === t && fk.parent !== t && tables.includes(fk.parent)) visit(fk.parent, path);
    path.delete(t);
    done.add(t);
    out.push(t);
  };
  for (const t of tables) visit(t, new Set());
  return out;
}

import { readdirSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Db } from './database.ts';

// Forward-only SQL migrations, applied in file-name order, all in one transaction under an advisory
// lock: several processes starting at once against one PostgreSQL queue on the lock, and the ones
// that get it second find nothing left to do.

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const LOCK_KEY = 7_461_812_001; // arbitrary, fixed: "aviary migrations"

export interface Migration {
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name: name.replace(/\.sql$/, ''), sql: readFileSync(new URL(name, MIGRATIONS_DIR), 'utf8') }));
}

export async function migrate(db: Db, onApply?: (name: string) => void): Promise<string[]> {
  const applied: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
    await sql`create table if not exists aviary_migrations (
      name text primary key,
      applied_at timestamptz not null default now()
    )`.execute(trx);
    const done = new Set((await sql<{ name: string }>`select name from aviary_migrations`.execute(trx)).rows.map((r) => r.name));
    for (const m of listMigrations()) {
      if (done.has(m.name)) continue;
      onApply?.(m.name);
      await sql.raw(m.sql).execute(trx);
      await sql`insert into aviary_migrations (name) values (${m.name})`.execute(trx);
      applied.push(m.name);
    }
  });
  return applied;
}

import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import type { DB } from './schema.ts';

export type Db = Kysely<DB>;

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for log lines: a directory, "memory", or the URL without its password. */
  location: string;
  /** How many transactions may usefully run at once (PGlite has one session). */
  concurrency: number;
  close(): Promise<void>;
}

// Return timestamps as Date and keep int8 counts exact-but-usable; numeric types we use are int4.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'memory' | 'dataDir' | 'pgPoolSize'>, log?: Logger): Promise<Database> {
  if (config.databaseUrl) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.pgPoolSize });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on('error', (err) => log?.warn({ err: err.message }, 'postgres idle client error'));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    try {
      await pool.query('select 1');
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot connect to PostgreSQL at ${redact(config.databaseUrl)}: ${(err as Error).message}`);
    }
    return { db, kind: 'postgres', location: redact(config.databaseUrl), concurrency: config.pgPoolSize, close: () => db.destroy() };
  }

  const release = config.memory ? () => {} : lockDataDir(config.dataDir);
  try {
    const pglite = await PGlite.create(config.memory ? 'memory://' : config.dataDir);
    // In memory there is no disk to make a commit durable on: don't wait for one (measured +12%).
    if (config.memory) await pglite.exec('set synchronous_commit = off');
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      kind: 'pglite',
      location: config.memory ? 'memory' : config.dataDir,
      concurrency: 1,
      close: async () => {
        await db.destroy();
        await pglite.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

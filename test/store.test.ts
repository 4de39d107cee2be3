import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { bootstrapIfEmpty } from '../src/bootstrap.ts';
import { lockDataDir, DataDirLockedError } from '../src/db/data-dir-lock.ts';
import { openDatabase } from '../src/db/database.ts';
import { listMigrations, migrate } from '../src/db/migrate.ts';
import { freshPostgresDatabase } from './support/harness.ts';

describe('store', () => {
  test('PostgreSQL: several processes migrating and bootstrapping at once apply everything exactly once', { skip: !process.env.AVIARY_TEST_DATABASE_URL && 'no PostgreSQL' }, async () => {
    const pgdb = await freshPostgresDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ databaseUrl: pgdb.url, memory: false, dataDir: '', pgPoolSize: 2 })));
    try {
      const applied = await Promise.all(stores.map((s) => migrate(s.db)));
      assert.deepEqual(applied.flat().sort(), listMigrations().map((m) => m.name).sort());
      const boots = await Promise.all(stores.map((s) => bootstrapIfEmpty(s.db)));
      assert.equal(boots.filter(Boolean).length, 1, 'exactly one process bootstraps');
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from workspaces`.execute(stores[0].db);
      assert.equal(rows[0].n, 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await pgdb.drop();
    }
  });

  test('PGlite data dir: data survives a restart; the dir is locked while open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aviary-store-'));
    try {
      const a = await openDatabase({ memory: false, dataDir: dir, databaseUrl: undefined, pgPoolSize: 1 });
      await migrate(a.db);
      await bootstrapIfEmpty(a.db);
      await assert.rejects(openDatabase({ memory: false, dataDir: dir, databaseUrl: undefined, pgPoolSize: 1 }), (err: Error) => {
        assert.ok(err instanceof DataDirLockedError);
        assert.match(err.message, new RegExp(`in use by process ${process.pid}`));
        return true;
      });
      await a.close();
      const b = await openDatabase({ memory: false, dataDir: dir, databaseUrl: undefined, pgPoolSize: 1 });
      assert.deepEqual(await migrate(b.db), []);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from channels`.execute(b.db);
      assert.ok(rows[0].n >= 10);
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a lock left by a dead process is taken over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aviary-lock-'));
    try {
      writeFileSync(join(dir, 'aviary.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: 'then' }));
      const release = lockDataDir(dir);
      release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


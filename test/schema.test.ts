import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { DB_COLUMNS } from '../src/db/schema.ts';
import { freshPostgresDatabase, storeKinds } from './support/harness.ts';

// The typed DB interface (src/db/schema.ts) is what every query is checked against at compile time;
// this test checks it against what the migrations really create, so neither can drift from the other.

for (const kind of storeKinds()) {
  describe(`DB interface matches the migrated store (${kind})`, () => {
    test('every table and column, no more and no fewer', async () => {
      const pgdb = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
      const store = await openDatabase({ databaseUrl: pgdb?.url, memory: true, dataDir: '', pgPoolSize: 2 });
      try {
        await migrate(store.db);
        const { rows } = await sql<{ table_name: string; column_name: string }>`
          select table_name, column_name from information_schema.columns
          where table_schema = current_schema() order by table_name, column_name`.execute(store.db);
        const actual: Record<string, string[]> = {};
        for (const r of rows) (actual[r.table_name] ??= []).push(r.column_name);
        for (const cols of Object.values(actual)) cols.sort();
        const declared = Object.fromEntries(Object.entries(DB_COLUMNS).map(([t, cols]) => [t, [...cols].sort()]));
        assert.deepEqual(Object.keys(actual).sort(), Object.keys(declared).sort(), 'tables');
        for (const table of Object.keys(declared)) assert.deepEqual(actual[table], declared[table], `columns of ${table}`);
      } finally {
        await store.close();
        await pgdb?.drop();
      }
    });
  });
}

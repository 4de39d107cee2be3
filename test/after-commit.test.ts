import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { afterSettle, transaction } from '../src/db/after-commit.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { freshPostgresDatabase, storeKinds } from './support/harness.ts';

// db/after-commit.ts: a callback registered inside a transaction runs once, after COMMIT returned
// (the rows are visible to another connection by then) or after the rollback; never inside a
// transaction it did not open.

for (const kind of storeKinds()) {
  describe(`after-commit callbacks (${kind})`, () => {
    let database: Database;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      if (kind === 'postgres') {
        const pgdb = await freshPostgresDatabase();
        drop = pgdb.drop;
        database = await openDatabase({ databaseUrl: pgdb.url, memory: false, dataDir: '', pgPoolSize: 4 });
      } else {
        database = await openDatabase({ databaseUrl: undefined, memory: true, dataDir: '', pgPoolSize: 1 });
      }
      await sql`create table ac_items (id int primary key)`.execute(database.db);
    });
    after(async () => {
      await database.close();
      await drop?.();
    });

    test('on commit: called once with true, when the row is already visible outside the transaction', async () => {
      const seen: Array<[boolean, Promise<number>]> = [];
      await transaction(database.db, async (trx) => {
        await sql`insert into ac_items values (1)`.execute(trx);
        assert.equal(
          afterSettle(trx, (committed) => {
            // Read on the pool (PGlite: the one session, free again): sees the commit.
            seen.push([committed, sql<{ n: number }>`select count(*)::int as n from ac_items where id = 1`.execute(database.db).then((r) => r.rows[0].n)]);
          }),
          true,
        );
        assert.equal(seen.length, 0, 'not before the commit');
      });
      assert.equal(seen.length, 1);
      assert.equal(seen[0][0], true);
      assert.equal(await seen[0][1], 1);
    });

    test('on rollback: called once with false, and the error still reaches the caller', async () => {
      const seen: boolean[] = [];
      await assert.rejects(
        transaction(database.db, async (trx) => {
          await sql`insert into ac_items values (2)`.execute(trx);
          afterSettle(trx, (c) => seen.push(c));
          await sql`insert into ac_items values (2)`.execute(trx);
        }),
        (err: { code?: string }) => err.code === '23505',
      );
      assert.deepEqual(seen, [false]);
      assert.equal((await sql<{ n: number }>`select count(*)::int as n from ac_items where id = 2`.execute(database.db)).rows[0].n, 0);
    });

    test('a transaction opened elsewhere, or none: not registered, never called', async () => {
      let called = 0;
      await database.db.transaction().execute(async (trx) => {
        assert.equal(afterSettle(trx, () => called++), false);
      });
      assert.equal(afterSettle(database.db, () => called++), false);
      assert.equal(called, 0);
    });

    test('a callback that throws does not turn a commit into a failure', async () => {
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
      const out = await transaction(database.db, async (trx) => {
        await sql`insert into ac_items values (3)`.execute(trx);
        afterSettle(trx, () => {
          throw new Error('a broken callback');
        });
        return 'done';
      });
      assert.equal(out, 'done');
      assert.match((await warned).message, /a broken callback/);
    });
  });
}

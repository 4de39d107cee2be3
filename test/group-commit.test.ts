import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type Database, type Db } from '../src/db/database.ts';
import { GroupCommit } from '../src/db/group-commit.ts';
import { freshPostgresDatabase, storeKinds } from './support/harness.ts';

// The group-commit writer on its own, against a real store: items are ids inserted into a table whose
// CHECK constraint rejects negative ones, so a "bad item" fails the shared transaction the way a
// constraint violation in writeMessages would, and the whole batch rolls back.

const log2 = (n: number) => Math.ceil(Math.log2(n));

for (const kind of storeKinds()) {
  describe(`group commit (${kind})`, () => {
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
      await sql`create table gc_items (id int primary key constraint gc_items_non_negative check (id >= 0))`.execute(database.db);
    });
    after(async () => {
      await database.close();
      await drop?.();
    });

    /** A writer whose work inserts the ids and returns `id * 10` for each, in order; counts transactions. */
    function writer(opts: { maxConcurrent?: number; maxBatch?: number; gate?: (items: number[]) => Promise<void> } = {}) {
      const calls: number[][] = [];
      const committed: number[][] = [];
      const gc = new GroupCommit<number, number>(
        database.db,
        async (trx: Db, items: number[]) => {
          calls.push(items);
          await opts.gate?.(items);
          const rows = await sql<{ id: number }>`insert into gc_items select unnest(${items}::int[]) returning id`.execute(trx);
          const ids = new Set(rows.rows.map((r) => r.id));
          return items.map((i) => (ids.has(i) ? i * 10 : -1));
        },
        { maxConcurrent: opts.maxConcurrent ?? 1, maxBatch: opts.maxBatch ?? 500, afterCommit: (items) => committed.push(items) },
      );
      return { gc, calls, committed };
    }

    async function stored(): Promise<number[]> {
      const r = await sql<{ id: number }>`select id from gc_items order by id`.execute(database.db);
      return r.rows.map((x) => x.id);
    }
    async function clear() {
      await sql`delete from gc_items`.execute(database.db);
    }

    test('one bad item among 100: 99 commit in batches, the bad one rejects with its own error, ~2·log2(100) extra transactions', async () => {
      await clear();
      const { gc, calls, committed } = writer();
      const items = Array.from({ length: 100 }, (_, i) => (i === 37 ? -37 : i + 1000));
      const results = await Promise.allSettled(items.map((i) => gc.submit(i)));
      results.forEach((r, i) => {
        if (items[i] < 0) {
          assert.equal(r.status, 'rejected');
          const err = (r as PromiseRejectedResult).reason as { message: string; detail?: string };
          assert.match(err.message, /gc_items_non_negative/);
          if (err.detail) assert.match(err.detail, /\(-37\)/);
        } else assert.deepEqual(r, { status: 'fulfilled', value: items[i] * 10 }, `item ${i}`);
      });
      assert.deepEqual(await stored(), items.filter((i) => i >= 0).sort((a, b) => a - b));
      assert.equal(calls[0].length, 100, 'one batch first');
      assert.ok(calls.length <= 1 + 2 * log2(100), `${calls.length} transactions`);
      // Every good item committed exactly once, and the first good half in one piece.
      assert.equal(committed.flat().length, 99);
      assert.ok(committed.some((c) => c.length === 50), JSON.stringify(committed.map((c) => c.length)));
      await gc.drain();
    });

    test('several bad items: each rejects with its own error, results stay in submission order', async () => {
      await clear();
      const { gc } = writer();
      const items = Array.from({ length: 64 }, (_, i) => (i % 16 === 5 ? -(i + 1) : i + 2000));
      const results = await Promise.allSettled(items.map((i) => gc.submit(i)));
      results.forEach((r, i) => {
        if (items[i] >= 0) return assert.deepEqual(r, { status: 'fulfilled', value: items[i] * 10 });
        const err = (r as PromiseRejectedResult).reason as { detail?: string; message: string };
        assert.match(err.message, /gc_items_non_negative/);
        if (err.detail) assert.match(err.detail, new RegExp(`\\(${items[i]}\\)`));
      });
      assert.equal((await stored()).length, 60);
    });

    test('a lone failing item rejects as before, in one transaction', async () => {
      await clear();
      const { gc, calls } = writer();
      await assert.rejects(gc.submit(-1), /gc_items_non_negative/);
      assert.equal(calls.length, 1);
      assert.equal(await gc.submit(1), 10);
      await gc.drain();
    });

    test('drain waits for the retries of a split', async () => {
      await clear();
      const { gc } = writer();
      const settled: number[] = [];
      for (const i of [3000, -3001, 3002, 3003]) void gc.submit(i).then((v) => settled.push(v), () => settled.push(NaN));
      await new Promise((r) => setImmediate(r));
      await gc.drain();
      assert.equal(settled.length, 4);
    });

    test('new submits proceed while a failed batch is split and retried', { skip: kind === 'pglite' ? 'PGlite has one session: a held transaction blocks every other by design' : false }, async () => {
      await clear();
      let firstFailed!: () => void;
      const failed = new Promise<void>((r) => (firstFailed = r));
      let openGate!: () => void;
      const gate = new Promise<void>((r) => (openGate = r));
      let first = true;
      const { gc } = writer({
        maxConcurrent: 1,
        // The first attempt fails at once; its retries (the halves) hang until the test opens the gate.
        gate: async (items) => {
          if (first) {
            first = false;
            setImmediate(firstFailed);
            return;
          }
          if (items.some((i) => i >= 4000 && i < 4100) || items.some((i) => i === -4001)) await gate;
        },
      });
      const a = [4000, -4001, 4002, 4003].map((i) => gc.submit(i).then((v) => v, (e: Error) => e));
      await failed;
      let late: unknown;
      try {
        late = await Promise.race([gc.submit(5000), new Promise((r) => setTimeout(() => r('timed out'), 3000))]);
      } finally {
        openGate(); // even when the assertion below fails, so the held transactions end and the store closes
      }
      assert.equal(late, 50000, 'a new batch committed while the split was held');
      const out = await Promise.all(a);
      assert.deepEqual([out[0], out[2], out[3]], [40000, 40020, 40030]);
      assert.ok(out[1] instanceof Error);
      await gc.drain();
    });
  });
}

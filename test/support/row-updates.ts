import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';

/**
 * Records every UPDATE of `table`'s rows from now on (a trigger), to tell how many times a row was
 * written: the status writer and the receipts fold steps into one update, and a test that can only
 * see the end state could not tell one update from two.
 */
export async function watchUpdates(db: Db, table: 'messages' | 'message_parts', key: 'id' | 'message_id') {
  const log = `test_${table}_updates`;
  await sql`create table ${sql.raw(log)} (row_key uuid, status text)`.execute(db);
  const status = table === 'messages' ? 'new.status' : 'new.receipt_status';
  await sql`create function ${sql.raw(log)}() returns trigger language plpgsql as ${sql.lit(`begin insert into ${log} values (new.${key}, ${status}); return new; end`)}`.execute(db);
  await sql`create trigger ${sql.raw(log)} after update on ${sql.raw(table)} for each row execute function ${sql.raw(log)}()`.execute(db);
  return {
    /** The status each update of this row left, in order. */
    async of(rowKey: string): Promise<(string | null)[]> {
      const r = await sql<{ status: string | null }>`select status from ${sql.raw(log)} where row_key = ${rowKey}`.execute(db);
      return r.rows.map((x) => x.status);
    },
    async stop() {
      await sql`drop trigger ${sql.raw(log)} on ${sql.raw(table)}`.execute(db);
      await sql`drop function ${sql.raw(log)}()`.execute(db);
      await sql`drop table ${sql.raw(log)}`.execute(db);
    },
  };
}

import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';

// Claiming work. Due rows are locked with SKIP LOCKED, so concurrent workers (in this process or any
// other sharing the database) each take different rows without waiting on one another, and leased
// for `leaseMs`: long enough to send, short enough that a crashed worker's rows come back soon.

// `skipChannels` are channels whose share this worker already holds (dispatcher.ts): their rows are
// passed by. The trade-off: with a deep backlog on such a channel the scan walks past its due rows
// to reach others' (an index range scan with a filter), which costs claim time but never blocks.
export async function claimMessages(db: Db, owner: string, now: Date, limit: number, leaseMs: number, skipChannels: string[] = []): Promise<MessageRow[]> {
  const skip = skipChannels.length ? sql`and channel_id <> all(${skipChannels}::uuid[])` : sql``;
  const result = await sql<MessageRow>`
    with due as (
      select workspace_id, id from messages
      where next_attempt_at <= ${now} and (lease_expires_at is null or lease_expires_at < ${now}) ${skip}
      order by next_attempt_at
      limit ${limit}
      for update skip locked
    )
    update messages m set lease_owner = ${owner}, lease_expires_at = ${new Date(now.getTime() + leaseMs)}
    from due where m.workspace_id = due.workspace_id and m.id = due.id
    returning m.*`.execute(db);
  return result.rows;
}

export interface ConnectorEventRow {
  workspace_id: string;
  id: string;
  channel_id: string;
  message_id: string | null;
  kind: string;
  payload: unknown;
  due_at: Date;
}

export async function claimConnectorEvents(db: Db, owner: string, now: Date, limit: number, leaseMs: number): Promise<ConnectorEventRow[]> {
  const result = await sql<ConnectorEventRow>`
    with due as (
      select workspace_id, id from connector_events
      where due_at <= ${now} and (lease_expires_at is null or lease_expires_at < ${now})
      order by due_at
      limit ${limit}
      for update skip locked
    )
    update connector_events e set lease_owner = ${owner}, lease_expires_at = ${new Date(now.getTime() + leaseMs)}
    from due where e.workspace_id = due.workspace_id and e.id = due.id
    returning e.workspace_id, e.id, e.channel_id, e.message_id, e.kind, e.payload, e.due_at`.execute(db);
  // Apply in the order they were due: a stale receipt must come after the one it is stale to.
  return result.rows.sort((a, b) => a.due_at.getTime() - b.due_at.getTime() || (a.id < b.id ? -1 : 1));
}

/** Anything due by `now`, claimed or not: a virtual clock waits until there is none (virtual-clock.ts). */
export async function hasDueWork(db: Db, now: Date): Promise<boolean> {
  const result = await sql<{ due: boolean }>`
    select exists (select 1 from messages where next_attempt_at <= ${now})
      or exists (select 1 from connector_events where due_at <= ${now}) as due`.execute(db);
  return result.rows[0]?.due === true;
}

/**
 * The earliest future moment anything becomes due, to sleep until (null: nothing scheduled). That
 * includes the end of a lease on a row that is due: its worker may have died, or lost the database
 * before it could write what it did, and the row is claimable again then.
 */
export async function nextDueAt(db: Db, now: Date): Promise<Date | null> {
  const result = await sql<{ at: Date | null }>`
    select least(
      (select next_attempt_at from messages where next_attempt_at > ${now} order by next_attempt_at limit 1),
      (select lease_expires_at from messages where next_attempt_at <= ${now} and lease_expires_at > ${now} order by next_attempt_at limit 1),
      (select due_at from connector_events where due_at > ${now} order by due_at limit 1),
      (select lease_expires_at from connector_events where due_at <= ${now} and lease_expires_at > ${now} order by due_at limit 1)
    ) as at`.execute(db);
  return result.rows[0]?.at ?? null;
}

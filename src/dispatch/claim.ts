import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { PENDING_STATUSES } from '../messages/lifecycle.ts';

// Claiming work. Due rows are locked with SKIP LOCKED, so concurrent workers (in this process or any
// other sharing the database) each take different rows without waiting on one another, and leased
// for `leaseMs`: long enough to send, short enough that a crashed worker's rows come back soon.

// Due messages are found channel by channel (index messages_due_by_channel, migration 0014): a skip
// scan lists the channels with pending work, one index probe each, and each channel's oldest due rows
// are read from its own range of the index. So a claim never walks a channel's rows it will not take:
// the channels `rooms` skips, those whose share this worker already holds (dispatcher.ts), cost
// nothing however deep their backlog, each other channel gives no more than the room it has left
// (rows claimed beyond it would only be handed back), and the rows are still taken oldest first
// across channels.
const PENDING_CHANNELS = sql`pending(w, c) as (
    (select workspace_id, channel_id from messages where next_attempt_at is not null order by workspace_id, channel_id limit 1)
    union all
    select nx.workspace_id, nx.channel_id from pending p cross join lateral (
      select workspace_id, channel_id from messages
      where next_attempt_at is not null and (workspace_id, channel_id) > (p.w, p.c)
      order by workspace_id, channel_id limit 1) nx
  )`;

/**
 * How much a claim may take of each channel: none of `skip`, up to `room` of those listed there, and
 * up to `otherwise` of any other (a channel this worker knows nothing of yet).
 */
export interface ClaimRoom {
  skip: string[];
  room: Array<{ channelId: string; n: number }>;
  otherwise: number;
}

/**
 * Due messages start `processing` in the claim itself when nothing the claim can see stands in their
 * way: their channel is active, served by one of `connectorTypes` and has no send rate (a rate is a
 * per-message decision, taken before `processing`), the message is due (not scheduled ahead), still
 * valid, not to a suppressed address, and not a WhatsApp session message (the service window is the
 * dispatcher's to check). Such a message moves to `processing`, held until `until`, with its history
 * row, in the claim's one statement: one write of the row instead of two (the claim, then the
 * transition in a transaction of its own). What only the dispatcher can check (the connector's
 * capabilities, media) still follows, and a message that fails there goes on from `processing` to
 * `sending_failed`, as in Bird's lifecycle; whether a message is started never depends on timing.
 */
export interface ClaimStart {
  connectorTypes: string[];
  until: Date;
}

/** A claimed message: the row as the claim left it, and whether the claim started it (moved it to `processing`). */
export type ClaimedMessage = MessageRow & { started: boolean; claimed_status: string };

export async function claimMessages(
  db: Db,
  owner: string,
  now: Date,
  limit: number,
  leaseMs: number,
  rooms: ClaimRoom = { skip: [], room: [], otherwise: limit },
  start: ClaimStart = { connectorTypes: [], until: now },
): Promise<ClaimedMessage[]> {
  return (await claim(db, owner, now, limit, leaseMs, rooms, start, false)).rows;
}

/**
 * claimMessages, and in the same statement what nextMessageDueAt would answer next (as the claim's
 * snapshot saw it: rows it claimed are not counted; they are this worker's). A claim loop that finds
 * little to claim sleeps until then, and asking apart cost a statement per claim (bench send-latency:
 * as many as the claims, 1-6 ms each under load, on the way to the next claim).
 */
export async function claimMessagesAndNextDue(
  db: Db,
  owner: string,
  now: Date,
  limit: number,
  leaseMs: number,
  rooms: ClaimRoom,
  start: ClaimStart,
): Promise<{ rows: ClaimedMessage[]; nextDueAt: Date | null }> {
  return claim(db, owner, now, limit, leaseMs, rooms, start, true);
}

async function claim(
  db: Db,
  owner: string,
  now: Date,
  limit: number,
  leaseMs: number,
  rooms: ClaimRoom,
  start: ClaimStart,
  withNextDue: boolean,
): Promise<{ rows: ClaimedMessage[]; nextDueAt: Date | null }> {
  const result = await sql<ClaimedMessage & { next_due_at?: Date | null }>`
    with recursive ${PENDING_CHANNELS},
    room(c, n) as (select * from unnest(${rooms.room.map((r) => r.channelId)}::uuid[], ${rooms.room.map((r) => r.n)}::int[])),
    ready(w, c) as (
      select p.w, p.c from pending p join channels ch on ch.workspace_id = p.w and ch.id = p.c
      where ch.status = 'active' and ch.connector_type = any (${start.connectorTypes}::text[])
        and jsonb_typeof(ch.settings->'sendRatePerSecond') is distinct from 'number'
    ),
    due as (
      select m.ctid, m.workspace_id, m.id, m.status,
        exists (select 1 from ready r where r.w = p.w and r.c = p.c)
          and m.status = any (${PENDING_STATUSES}::text[])
          and (m.scheduled_for is null or m.scheduled_for <= ${now})
          and (m.validity is null or greatest(m.created_at, coalesce(m.scheduled_for, m.created_at)) + m.validity * interval '1 second' > ${now})
          and (m.platform <> 'whatsapp' or m.template is not null)
          and not exists (
            select 1 from jsonb_array_elements(coalesce(m.receiver->'contacts', '[]')) rc
            join suppressions s on s.workspace_id = m.workspace_id and s.identifier_key = rc->>'identifierKey' and s.identifier_value = rc->>'identifierValue')
          as starts
      from pending p cross join lateral (
        select ctid, workspace_id, id, status, next_attempt_at, scheduled_for, validity, created_at, platform, template, receiver from messages
        where workspace_id = p.w and channel_id = p.c and next_attempt_at <= ${now} and (lease_expires_at is null or lease_expires_at < ${now})
        order by next_attempt_at
        limit least(${limit}, coalesce((select n from room where room.c = p.c), ${rooms.otherwise}))
        for update skip locked) m
      where p.c <> all(${rooms.skip}::uuid[])
      order by m.next_attempt_at
      limit ${limit}
    ),
    claimed as (
      update messages m set
        lease_owner = ${owner},
        lease_expires_at = ${new Date(now.getTime() + leaseMs)},
        status = case when due.starts then 'processing' else m.status end,
        last_status_at = case when due.starts and m.status <> 'processing' then ${now} else m.last_status_at end,
        updated_at = case when due.starts and m.status <> 'processing' then ${now} else m.updated_at end,
        next_attempt_at = case when due.starts then ${start.until} else m.next_attempt_at end
      -- By ctid alone: the row is locked by this statement (FOR UPDATE above), so it cannot move,
      -- and the due CTE took it within its workspace. Joined by (workspace_id, id), the generic plan of
      -- this statement (made while the table was nearly empty, so every index looked alike) probed
      -- messages_workspace_page for each row, walking the whole workspace: under load 0.37 ms and
      -- 157 buffers a row, 18 of a claim's 21 ms (auto_explain, bench smpp-pipeline). With any other
      -- indexable condition here the planner can still pick that index; with ctid alone the only
      -- path it has is a TID scan.
      from due where m.ctid = due.ctid
      returning m.*, due.starts as started, due.status as claimed_status
    ),
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, last_status_at, reason, failure from claimed where started and claimed_status <> 'processing'
    )
    ${withNextDue
      ? sql`-- One row even when nothing was claimed (its message columns null), to carry next_due_at.
        select claimed.*, next_due.at as next_due_at from (select ${nextDue(now)} as at) next_due left join claimed on true`
      : sql`select * from claimed`}`.execute(db);
  if (!withNextDue) return { rows: result.rows, nextDueAt: null };
  const nextDueAt = result.rows[0]?.next_due_at ?? null;
  const rows = result.rows.filter((r) => r.id !== null);
  for (const r of rows) delete r.next_due_at;
  return { rows, nextDueAt };
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
    with recursive ${PENDING_CHANNELS}
    select exists (select 1 from pending p where exists (
        select 1 from messages where workspace_id = p.w and channel_id = p.c and next_attempt_at <= ${now}))
      or exists (select 1 from connector_events where due_at <= ${now}) as due`.execute(db);
  return result.rows[0]?.due === true;
}

/**
 * The earliest future moment anything becomes due, to sleep until (null: nothing scheduled). That
 * includes the end of a lease on a row that is due: its worker may have died, or lost the database
 * before it could write what it did, and the row is claimable again then. Messages and provider
 * events are asked apart: each has its own loop (dispatcher.ts), woken by its own kind of work.
 */
const LEASE_LOOKAHEAD = 1000;

export async function nextDueAt(db: Db, now: Date): Promise<Date | null> {
  const [messages, events] = await Promise.all([nextMessageDueAt(db, now), nextEventDueAt(db, now)]);
  return least(messages, events);
}

export async function nextMessageDueAt(db: Db, now: Date): Promise<Date | null> {
  const result = await sql<{ at: Date | null }>`
    with recursive ${PENDING_CHANNELS}
    select ${nextDue(now)} as at`.execute(db);
  return result.rows[0]?.at ?? null;
}

/** The next moment a message becomes due, over the channels of PENDING_CHANNELS (`pending`). */
function nextDue(now: Date) {
  return sql`(select least(min(next_at), min(lease_end)) from (
      select
        (select next_attempt_at from messages where workspace_id = p.w and channel_id = p.c and next_attempt_at > ${now} order by next_attempt_at limit 1) as next_at,
        -- Claims take a channel's oldest due rows, so a claimed row still due (its worker may be gone)
        -- is among its first; looking no further keeps a deep backlog from being read here. One
        -- further back is still retried: the loop never sleeps past its poll interval.
        (select min(lease_expires_at) from (
          select lease_expires_at from messages where workspace_id = p.w and channel_id = p.c and next_attempt_at <= ${now}
          order by next_attempt_at limit ${LEASE_LOOKAHEAD}) d where lease_expires_at > ${now}) as lease_end
      from pending p) per_channel)`;
}

export async function nextEventDueAt(db: Db, now: Date): Promise<Date | null> {
  const result = await sql<{ at: Date | null }>`
    select least(
      (select due_at from connector_events where due_at > ${now} order by due_at limit 1),
      (select lease_expires_at from connector_events where due_at <= ${now} and lease_expires_at > ${now} order by due_at limit 1)
    ) as at`.execute(db);
  return result.rows[0]?.at ?? null;
}

function least(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a < b ? a : b;
}

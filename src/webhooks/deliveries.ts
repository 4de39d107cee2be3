import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { keysetPage, pageOrder, type PageRequest } from '../db/keyset-page.ts';
import { uuidv7 } from '../ids.ts';
import { WEBHOOK_CHANNEL } from '../db/notify-channels.ts';
import type { Outbox } from './emit.ts';

// The delivery rows: claiming due ones, recording attempts, the logs API's reads, redelivery and
// pruning. See migrations/0005_webhooks.sql for the table.

export type ExecutionStatus = 'pending' | 'succeeded' | 'failed';
export const EXECUTION_STATUSES: ExecutionStatus[] = ['pending', 'succeeded', 'failed'];

export interface ClaimedDelivery {
  workspace_id: string;
  id: string;
  subscription_id: string;
  event: string;
  body: string;
  created_at: Date;
  attempt_count: number;
  /** Null when the subscription was deleted meanwhile. */
  url: string | null;
  signing_key: string | null;
  standard_webhooks: boolean | null;
  status: string | null;
}

/**
 * Claims up to `limit` due deliveries for `owner`: locked with SKIP LOCKED (so concurrent workers in
 * any process take different rows) and leased until `leaseUntil` (so a crashed worker's deliveries
 * become due again then). Only the head of each ordering chain is due: a delivery waits while an
 * earlier one with the same order key to the same subscription is unfinished.
 *
 * Subscriptions in `exclude` (this worker's saturated ones) are skipped. Then only the oldest
 * `EXCLUDING_SCAN` due rows are looked at, so a long backlog of an excluded subscription costs a
 * bounded scan rather than a walk through all of it on every claim.
 */
export async function claimDeliveries(db: Db, owner: string, now: Date, limit: number, leaseUntil: Date, exclude: string[]): Promise<ClaimedDelivery[]> {
  const source = exclude.length
    ? sql`(select workspace_id, subscription_id, id from webhook_deliveries where next_attempt_at <= ${now} order by next_attempt_at limit ${Math.max(EXCLUDING_SCAN, limit * 4)}) as c
        join webhook_deliveries d on d.workspace_id = c.workspace_id and d.subscription_id = c.subscription_id and d.id = c.id`
    : sql`webhook_deliveries d`;
  const r = await sql<ClaimedDelivery>`
    with due as (
      select d.workspace_id, d.subscription_id, d.id from ${source}
      where d.next_attempt_at <= ${now}
        ${exclude.length ? sql`and d.subscription_id <> all (${exclude}::uuid[])` : sql``}
        and (d.order_key is null or not exists (
          select 1 from webhook_deliveries p
          where p.workspace_id = d.workspace_id and p.subscription_id = d.subscription_id and p.order_key = d.order_key
            and p.seq < d.seq and p.next_attempt_at is not null))
      order by d.next_attempt_at
      limit ${limit}
      for update of d skip locked
    ),
    claimed as (
      update webhook_deliveries d set next_attempt_at = ${leaseUntil}, lease_owner = ${owner}
      from due where d.workspace_id = due.workspace_id and d.subscription_id = due.subscription_id and d.id = due.id
      returning d.workspace_id, d.id, d.subscription_id, d.event, d.body, d.created_at, d.attempt_count
    )
    select c.*, s.url, s.signing_key, s.standard_webhooks, s.status
    from claimed c left join webhook_subscriptions s on s.workspace_id = c.workspace_id and s.id = c.subscription_id`.execute(db);
  return r.rows;
}

const EXCLUDING_SCAN = 2000;

/** A delivery is due by `now` and could be claimed (the head of its chain): a virtual clock waits until there is none. */
export async function hasDueDeliveries(db: Db, now: Date): Promise<boolean> {
  const r = await sql<{ due: boolean }>`
    select exists (
      select 1 from webhook_deliveries d
      where d.next_attempt_at <= ${now}
        and (d.order_key is null or not exists (
          select 1 from webhook_deliveries p
          where p.workspace_id = d.workspace_id and p.subscription_id = d.subscription_id and p.order_key = d.order_key
            and p.seq < d.seq and p.next_attempt_at is not null))) as due`.execute(db);
  return r.rows[0]?.due === true;
}

/** The earliest future moment a delivery becomes due (null: none scheduled). */
export async function nextDeliveryDueAt(db: Db, now: Date): Promise<Date | null> {
  const r = await sql<{ at: Date }>`
    select next_attempt_at as at from webhook_deliveries where next_attempt_at > ${now} order by next_attempt_at limit 1`.execute(db);
  return r.rows[0]?.at ?? null;
}

export interface AttemptLog {
  attempt: number;
  at: string;
  url: string;
  /** messagebird-signature sent (null: no request was made); the other headers follow from the row. */
  signature: string | null;
  /** webhook-signature sent, with Standard Webhooks on. */
  standardSignature?: string;
  httpStatusCode: number | null;
  responseBody: string | null;
  durationMs: number;
  error: string | null;
}

export interface AttemptOutcome {
  workspaceId: string;
  id: string;
  subscriptionId: string;
  attempt: AttemptLog | null;
  /** The subscription is gone: delete the delivery (it was emitted as the subscription was deleted). */
  drop?: boolean;
  status: ExecutionStatus;
  nextAttemptAt: Date | null;
  /** For the subscription's health: did the endpoint answer 2xx. Undefined when no attempt was made. */
  ok?: boolean;
  at: Date;
}

export interface RecordOptions {
  /** A subscription failing without a success for this long becomes inactive (0: never). */
  disableAfterMs: number;
}

/**
 * Records a batch of attempts on their deliveries (one statement, or two when some are dropped).
 * Returns whether a finished one had a later delivery of its chain waiting (the claims can take that
 * one now): a worker claims after recording only then, not after every batch of outcomes.
 */
export async function recordOutcomes(db: Db, outcomes: AttemptOutcome[]): Promise<boolean> {
  if (outcomes.length === 0) return false;
  const dropped = outcomes.filter((o) => o.drop);
  if (dropped.length) {
    await sql`
      delete from webhook_deliveries d
      using json_to_recordset(${JSON.stringify(dropped.map((o) => ({ w: o.workspaceId, s: o.subscriptionId, id: o.id })))}::json) as t(w uuid, s uuid, id uuid)
      where d.workspace_id = t.w and d.subscription_id = t.s and d.id = t.id`.execute(db);
    outcomes = outcomes.filter((o) => !o.drop);
    if (outcomes.length === 0) return false;
  }
  const rows = outcomes.map((o) => ({
    w: o.workspaceId,
    s: o.subscriptionId,
    id: o.id,
    st: o.status,
    code: o.attempt?.httpStatusCode ?? null,
    next: o.nextAttemptAt,
    a: o.attempt,
  }));
  // A success recorded by a slower, earlier worker is never undone by a later failure of the same
  // delivery (both can happen after a lease expired: at-least-once). A successor committed after this
  // statement began is not seen here; the NOTIFY of its own commit or the poll finds it.
  const r = await sql<{ unblocks: boolean }>`
    update webhook_deliveries d set
      attempt_count = d.attempt_count + case when t.a is null then 0 else 1 end,
      http_status_code = case when t.a is null then d.http_status_code else t.code end,
      execution_status = case when d.execution_status = 'succeeded' then 'succeeded' else t.st end,
      next_attempt_at = case when d.execution_status = 'succeeded' then null else t.next end,
      lease_owner = null,
      attempts = case when t.a is null then d.attempts else d.attempts || jsonb_build_array(t.a) end,
      updated_at = now()
    from json_to_recordset(${JSON.stringify(rows)}::json) as t(w uuid, s uuid, id uuid, st text, code int, next timestamptz, a jsonb)
    where d.workspace_id = t.w and d.subscription_id = t.s and d.id = t.id
    returning d.next_attempt_at is null and d.order_key is not null and exists (
      select 1 from webhook_deliveries n
      where n.workspace_id = d.workspace_id and n.subscription_id = d.subscription_id and n.order_key = d.order_key
        and n.seq > d.seq and n.next_attempt_at is not null) as unblocks`.execute(db);
  return r.rows.some((row) => row.unblocks);
}

/**
 * Subscription health from a batch of outcomes (the latest per subscription): a success clears
 * failingSince; a failure sets it, and deactivates the subscription once it is older than
 * disableAfterMs. Only rows whose state changes are written. Returns the subscriptions deactivated.
 * Kept out of the deliveries' statement so no transaction here holds locks on both tables.
 */
export async function recordHealth(db: Db, outcomes: AttemptOutcome[], opts: RecordOptions): Promise<{ workspace_id: string; id: string; url: string }[]> {
  // Subscription health: the latest outcome per subscription in this batch.
  const latest = new Map<string, AttemptOutcome>();
  for (const o of outcomes) {
    if (o.ok === undefined) continue;
    const key = `${o.workspaceId}|${o.subscriptionId}`;
    const prev = latest.get(key);
    if (!prev || prev.at <= o.at) latest.set(key, o);
  }
  if (latest.size === 0) return [];
  const health = [...latest.values()].map((o) => ({ w: o.workspaceId, s: o.subscriptionId, ok: o.ok, at: o.at }));
  const disable = opts.disableAfterMs > 0;
  const after = sql`make_interval(secs => ${opts.disableAfterMs / 1000})`;
  // Only rows whose state changes are written: a healthy subscription is not updated per delivery.
  const r = await sql<{ workspace_id: string; id: string; url: string; deactivated: boolean }>`
    with t as (
      select * from json_to_recordset(${JSON.stringify(health)}::json) as t(w uuid, s uuid, ok boolean, at timestamptz)
    ),
    x as (
      select s.workspace_id, s.id, t.ok, t.at, coalesce(s.failing_since, t.at) as since,
        (not t.ok and ${disable} and s.status = 'active' and coalesce(s.failing_since, t.at) <= t.at - ${after}) as deactivate
      from webhook_subscriptions s join t on s.workspace_id = t.w and s.id = t.s
      where case when t.ok then s.failing_since is not null
                 else s.failing_since is null or (${disable} and s.status = 'active' and s.failing_since <= t.at - ${after}) end
    )
    update webhook_subscriptions s set
      failing_since = case when x.ok then null else x.since end,
      status = case when x.deactivate then 'inactive' else s.status end,
      status_reason = case when x.deactivate
        then 'deactivated by Aviary: every delivery attempt since ' || to_char(x.since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' failed'
        else s.status_reason end,
      updated_at = case when x.deactivate then x.at else s.updated_at end
    from x where s.workspace_id = x.workspace_id and s.id = x.id
    returning s.workspace_id, s.id, s.url, x.deactivate as deactivated`.execute(db);
  return r.rows.filter((x) => x.deactivated);
}

/** Puts claimed deliveries back, due now, without counting an attempt (a worker shutting down). */
export async function releaseDeliveries(db: Db, owner: string, items: { workspaceId: string; subscriptionId: string; id: string }[]): Promise<void> {
  if (items.length === 0) return;
  await sql`
    update webhook_deliveries d set next_attempt_at = now(), lease_owner = null
    from json_to_recordset(${JSON.stringify(items.map((i) => ({ w: i.workspaceId, s: i.subscriptionId, id: i.id })))}::json) as t(w uuid, s uuid, id uuid)
    where d.workspace_id = t.w and d.subscription_id = t.s and d.id = t.id and d.lease_owner = ${owner} and d.execution_status = 'pending'`.execute(db);
}

// ------------------------------------------------------------------------------------------- logs

export interface DeliveryRow {
  workspace_id: string;
  id: string;
  subscription_id: string;
  event: string;
  body: string;
  created_at: Date;
  execution_status: ExecutionStatus;
  attempt_count: number;
  http_status_code: number | null;
  next_attempt_at: Date | null;
  attempts: AttemptLog[];
  redelivery_of: string | null;
  updated_at: Date;
}

/** One subscription's requests, newest first. */
export async function listDeliveries(
  db: Db,
  workspaceId: string,
  subscriptionId: string,
  opts: PageRequest & { status?: ExecutionStatus },
): Promise<{ rows: DeliveryRow[]; nextPageToken: string | null }> {
  // Newest first; request ids are time-ordered, so the id alone is the position.
  const order = pageOrder(opts);
  const r = await sql<DeliveryRow>`
    select workspace_id, id, subscription_id, event, created_at, execution_status, attempt_count, http_status_code, next_attempt_at, redelivery_of, updated_at
    from webhook_deliveries
    where workspace_id = ${workspaceId} and subscription_id = ${subscriptionId}
      ${opts.status ? sql`and execution_status = ${opts.status}` : sql``}
      ${opts.after ? sql`and id ${sql.raw(order === 'asc' ? '>' : '<')} ${opts.after.id}` : sql``}
    order by id ${sql.raw(order)}
    limit ${opts.limit + 1}`.execute(db);
  return keysetPage(r.rows, opts.limit);
}

export async function getDelivery(db: Db, workspaceId: string, subscriptionId: string, id: string): Promise<DeliveryRow | undefined> {
  const r = await sql<DeliveryRow>`
    select * from webhook_deliveries where workspace_id = ${workspaceId} and subscription_id = ${subscriptionId} and id = ${id}`.execute(db);
  return r.rows[0];
}

/**
 * A new request repeating an earlier one's body: new request id and timestamp (a receiver that
 * de-duplicates by request id must not drop it), due now, outside any ordering chain.
 */
export async function redeliver(db: Db, outbox: Outbox, original: DeliveryRow): Promise<DeliveryRow> {
  const now = outbox.clock.now();
  const r = await sql<DeliveryRow>`
    insert into webhook_deliveries (workspace_id, id, subscription_id, event, order_key, body, created_at, next_attempt_at, redelivery_of, updated_at)
    values (${original.workspace_id}, ${uuidv7(now.getTime())}, ${original.subscription_id}, ${original.event}, null, ${original.body},
      ${now}, ${now}, ${original.id}, ${now})
    returning *`.execute(db);
  await sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`.execute(db);
  outbox.wake();
  return r.rows[0];
}

/**
 * Deletes finished deliveries created before `before`, a subscription at a time along the primary key
 * (request ids are time-ordered), in chunks. Returns how many were deleted.
 */
export async function pruneDeliveries(db: Db, before: Date, chunk = 5000): Promise<number> {
  const bound = uuidv7Floor(before);
  const subscriptions = (await sql<{ workspace_id: string; id: string }>`select workspace_id, id from webhook_subscriptions`.execute(db)).rows;
  let total = 0;
  for (const s of subscriptions) {
    for (;;) {
      const r = await sql`
        delete from webhook_deliveries d using (
          select id from webhook_deliveries
          where workspace_id = ${s.workspace_id} and subscription_id = ${s.id} and id < ${bound} and next_attempt_at is null and created_at < ${before}
          limit ${chunk}
        ) old
        where d.workspace_id = ${s.workspace_id} and d.subscription_id = ${s.id} and d.id = old.id`.execute(db);
      const n = Number(r.numAffectedRows ?? 0);
      total += n;
      if (n < chunk) break;
    }
  }
  return total;
}

/** The smallest UUIDv7 of a moment: every id created before it sorts below. */
export function uuidv7Floor(at: Date): string {
  const h = Math.max(0, Math.floor(at.getTime())).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7000-8000-000000000000`;
}

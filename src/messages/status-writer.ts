import { transaction } from '../db/after-commit.ts';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import type { Failure } from '../connectors/failures.ts';
import { allowedFrom, PENDING_STATUSES, type MessageStatus } from './lifecycle.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { emitMessageEvents } from './message-events.ts';

// Every status change of a message goes through here, many at a time: one statement updates the
// rows, appends their history and returns the new rows (for webhooks). A transition applies only from
// the statuses lifecycle.ts allows for its target, narrowed by `from` when given; one that does not
// (a duplicate or late receipt, a cancel that lost to a claim) changes nothing.
//
// A transition may carry the next one (`next`): a send and its receipt recorded in one transaction
// (outcomes.ts: the sandbox's receipt due at once, an SMSC's receipt right behind its submit
// response). The row is then updated once, to where the second step leaves it, instead of twice;
// history and webhooks still get both statuses, in order. Each update of a message writes a new row
// version and, unless it is HOT, an entry in each of its indexes, so this saves one of the three a
// sent-and-delivered message costs. The price is a read of the rows as they were (the first step's
// webhook shows the reason, details and failure it left untouched), for those rows only.

export interface Transition {
  workspaceId: string;
  messageId: string;
  status: MessageStatus;
  at: Date;
  /** Only apply while the message is in one of these statuses (and one lifecycle.ts allows). */
  from?: readonly string[];
  reason?: string | null;
  details?: string | null;
  failure?: Failure | null;
  parts?: { platformReference: string }[];
  chargeableUnits?: number;
  platformReference?: string;
  /** Per-receiver outcomes of a message submitted receiver by receiver (dispatch/receivers.ts). */
  receiverOutcomes?: unknown[];
  /** When the dispatcher should look again; null when this status needs no more work. */
  nextAttemptAt: Date | null;
  attempts?: number;
  /** The status that follows at once, written with this one (see above); must be allowed from `status`. */
  next?: Step;
}

/** A second status change in the same update: what a receipt sets. */
export type Step = Pick<Transition, 'status' | 'at' | 'reason' | 'details' | 'failure'>;

export async function applyTransitions(trx: Db, outbox: Outbox, transitions: Transition[]): Promise<MessageRow[]> {
  if (transitions.length === 0) return [];
  // The webhook events below must commit with the change: give a lone call its own transaction.
  if (!trx.isTransaction) return transaction(trx, (t) => applyTransitions(t, outbox, transitions));
  const rows = transitions.map((t) => {
    const n = t.next;
    if (n && !allowedFrom(n.status).includes(t.status)) throw new Error(`a move from ${t.status} to ${n.status} is not allowed`);
    // The row's columns are where the last step leaves them; the first step's own values go to its
    // history row and webhook (`mid_*`), with what it leaves untouched read from the row as it was.
    return {
      workspace_id: t.workspaceId,
      id: t.messageId,
      status: n?.status ?? t.status,
      at: n?.at ?? t.at,
      from_statuses: allowedFrom(t.status, t.from),
      ...settable('reason', n?.reason !== undefined ? n.reason : t.reason),
      ...settable('details', n?.details !== undefined ? n.details : t.details),
      ...settable('failure', n?.failure !== undefined ? n.failure : t.failure),
      parts: t.parts ?? null,
      chargeable_units: t.chargeableUnits ?? null,
      platform_reference: t.platformReference ?? null,
      receiver_outcomes: t.receiverOutcomes ?? null,
      next_attempt_at: t.nextAttemptAt,
      attempts: t.attempts ?? null,
      mid_status: n ? t.status : null,
      mid_at: n ? t.at : null,
      ...(n ? { mid_set_reason: t.reason !== undefined, mid_reason: t.reason ?? null, mid_set_details: t.details !== undefined, mid_details: t.details ?? null, mid_set_failure: t.failure !== undefined, mid_failure: t.failure ?? null } : {}),
    };
  });
  const twoStep = rows.some((r) => r.mid_status !== null);
  const result = await sql<MessageRow & Mid>`
    with t as (
      select * from json_to_recordset(${JSON.stringify(rows)}::json) as t(
        workspace_id uuid, id uuid, status text, at timestamptz, from_statuses text[],
        set_reason boolean, reason text, set_details boolean, details text, set_failure boolean, failure jsonb,
        parts jsonb, chargeable_units integer, platform_reference text, receiver_outcomes jsonb, next_attempt_at timestamptz, attempts integer,
        mid_status text, mid_at timestamptz, mid_set_reason boolean, mid_reason text, mid_set_details boolean, mid_details text,
        mid_set_failure boolean, mid_failure jsonb)
    ),
    updated as (
      update messages m set
        status = t.status,
        last_status_at = t.at,
        updated_at = t.at,
        reason = case when t.set_reason then t.reason else m.reason end,
        details = case when t.set_details then t.details else m.details end,
        failure = case when t.set_failure then t.failure else m.failure end,
        failure_code = case when t.set_failure then (t.failure->>'code')::int else m.failure_code end,
        failure_source_code = case when t.set_failure then t.failure->'source'->>'code' else m.failure_source_code end,
        failure_source_name = case when t.set_failure then t.failure->'source'->>'name' else m.failure_source_name end,
        parts = coalesce(t.parts, m.parts),
        chargeable_units = coalesce(t.chargeable_units, m.chargeable_units),
        platform_reference = coalesce(t.platform_reference, m.platform_reference),
        receiver_outcomes = coalesce(t.receiver_outcomes, m.receiver_outcomes),
        next_attempt_at = t.next_attempt_at,
        attempts = coalesce(t.attempts, m.attempts),
        lease_owner = null,
        lease_expires_at = null
      from t
      where m.workspace_id = t.workspace_id and m.id = t.id
        and m.status = any (t.from_statuses)
      returning m.*
    ),
    ${twoStep ? twoStepHistory : oneStepHistory}`.execute(trx);
  // `<platform>.outbound` webhooks for every status change, in the same transaction.
  if (!twoStep) {
    await emitMessageEvents(trx, outbox, result.rows.filter((r) => r.direction === 'outgoing'));
    return result.rows;
  }
  const events: MessageRow[] = [];
  const updated = result.rows.map((r) => {
    const { mid_status, mid_at, mid_reason, mid_details, mid_failure, ...row } = r;
    if (mid_status && row.direction === 'outgoing') {
      events.push({
        ...row,
        status: mid_status,
        last_status_at: mid_at!,
        updated_at: mid_at!,
        reason: mid_reason,
        details: mid_details,
        failure: mid_failure,
        failure_code: (mid_failure as { code?: number } | null)?.code ?? null,
        failure_source_code: (mid_failure as { source?: { code?: string } } | null)?.source?.code ?? null,
        failure_source_name: (mid_failure as { source?: { name?: string } } | null)?.source?.name ?? null,
      } as MessageRow);
    }
    if (row.direction === 'outgoing') events.push(row as MessageRow);
    return row as MessageRow;
  });
  await emitMessageEvents(trx, outbox, events);
  return updated;
}

type Mid = { mid_status: string | null; mid_at: Date | null; mid_reason: string | null; mid_details: string | null; mid_failure: unknown };

function settable<K extends string, V>(key: K, value: V | undefined) {
  return { [`set_${key}`]: value !== undefined, [key]: value ?? null } as Record<`set_${K}` | K, boolean | V | null>;
}

const oneStepHistory = sql`
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, last_status_at, reason, failure from updated
    )
    select * from updated`;

// The first step of a two-step row: its own values where it sets them, else the row's before this
// statement (every part of a statement sees one snapshot: `before` reads the rows as the update found them).
const twoStepHistory = sql`
    before as (
      select m.workspace_id, m.id, m.reason, m.details, m.failure
      from messages m join t on m.workspace_id = t.workspace_id and m.id = t.id
      where t.mid_status is not null
    ),
    mid as (
      select u.workspace_id, u.id, t.mid_status, t.mid_at,
        case when t.mid_set_reason then t.mid_reason else b.reason end as mid_reason,
        case when t.mid_set_details then t.mid_details else b.details end as mid_details,
        case when t.mid_set_failure then t.mid_failure else b.failure end as mid_failure
      from updated u join t on u.workspace_id = t.workspace_id and u.id = t.id
      join before b on b.workspace_id = u.workspace_id and b.id = u.id
      where t.mid_status is not null
    ),
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, at, reason, failure from (
        select workspace_id, id, mid_status as status, mid_at as at, mid_reason as reason, mid_failure as failure, 0 as step from mid
        union all
        select workspace_id, id, status, last_status_at, reason, failure, 1 from updated
      ) h order by id, step
    )
    select u.*, mid.mid_status, mid.mid_at, mid.mid_reason, mid.mid_details, mid.mid_failure
    from updated u left join mid on mid.workspace_id = u.workspace_id and mid.id = u.id`;

/**
 * Puts messages back for later without a status change (retry backoff, rate limits, early wake-up),
 * or releases them (nextAttemptAt null). A message that reached a final status meanwhile (cancelled
 * by DELETE) is released whatever was asked, so it is never claimed again.
 */
export async function reschedule(trx: Db, items: { workspaceId: string; messageId: string; nextAttemptAt: Date | null; attempts?: number; reason?: string }[]): Promise<void> {
  if (items.length === 0) return;
  const rows = items.map((i) => ({ workspace_id: i.workspaceId, id: i.messageId, next_attempt_at: i.nextAttemptAt, attempts: i.attempts ?? null, reason: i.reason ?? null }));
  await sql`
    update messages m set
      next_attempt_at = case when m.status = any (${PENDING_STATUSES}::text[]) then t.next_attempt_at end,
      attempts = coalesce(t.attempts, m.attempts),
      reason = coalesce(t.reason, m.reason),
      lease_owner = null,
      lease_expires_at = null
    from json_to_recordset(${JSON.stringify(rows)}::json) as t(workspace_id uuid, id uuid, next_attempt_at timestamptz, attempts integer, reason text)
    where m.workspace_id = t.workspace_id and m.id = t.id`.execute(trx);
}

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
}

export async function applyTransitions(trx: Db, outbox: Outbox, transitions: Transition[]): Promise<MessageRow[]> {
  if (transitions.length === 0) return [];
  // The webhook events below must commit with the change: give a lone call its own transaction.
  if (!trx.isTransaction) return trx.transaction().execute((t) => applyTransitions(t, outbox, transitions));
  const rows = transitions.map((t) => ({
    workspace_id: t.workspaceId,
    id: t.messageId,
    status: t.status,
    at: t.at,
    from_statuses: allowedFrom(t.status, t.from),
    set_reason: t.reason !== undefined,
    reason: t.reason ?? null,
    set_details: t.details !== undefined,
    details: t.details ?? null,
    set_failure: t.failure !== undefined,
    failure: t.failure ?? null,
    parts: t.parts ?? null,
    chargeable_units: t.chargeableUnits ?? null,
    platform_reference: t.platformReference ?? null,
    receiver_outcomes: t.receiverOutcomes ?? null,
    next_attempt_at: t.nextAttemptAt,
    attempts: t.attempts ?? null,
  }));
  const result = await sql<MessageRow>`
    with t as (
      select * from json_to_recordset(${JSON.stringify(rows)}::json) as t(
        workspace_id uuid, id uuid, status text, at timestamptz, from_statuses text[],
        set_reason boolean, reason text, set_details boolean, details text, set_failure boolean, failure jsonb,
        parts jsonb, chargeable_units integer, platform_reference text, receiver_outcomes jsonb, next_attempt_at timestamptz, attempts integer)
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
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, last_status_at, reason, failure from updated
    )
    select * from updated`.execute(trx);
  // `<platform>.outbound` webhooks for every status change, in the same transaction.
  await emitMessageEvents(trx, outbox, result.rows.filter((r) => r.direction === 'outgoing'));
  return result.rows;
}

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

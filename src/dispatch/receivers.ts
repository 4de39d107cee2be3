import { sql } from 'kysely';
import type { OutboundMessage, ProviderEvent, SendResult } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import type { ConnectorEventRow } from './claim.ts';
import { failures, type Failure } from '../connectors/failures.ts';
import type { Transition } from '../messages/status-writer.ts';

// An SMS to several receivers (Bird accepts `receiver.contacts` with several phone numbers; Laravel
// integrations send them). SMS has no multi-recipient submission, so each receiver is submitted on
// its own and every segment of every receiver is a part of the message. The message has one status,
// which follows from its receivers' outcomes (docs/lifecycle.md, "Several SMS receivers"):
//   - `sent` once submitted, when at least one receiver was accepted by the provider;
//   - `sending_failed` when none was (retried as a whole while every failure is retryable);
//   - then, once every receiver has a final outcome: `delivered` when all were delivered, else
//     `delivery_failed` with the failure and reason of the first failed receiver (in receiver order)
//     and `details` saying how many failed.
// A receiver whose submission fails while others succeed is not retried: retrying the message would
// send the others twice. It counts as failed.

export interface ReceiverOutcome {
  status: 'delivered' | 'delivery_failed' | 'sending_failed';
  failure?: Failure;
  reason?: string;
  details?: string;
}
/** Index i: receiver i of the message; null while its delivery is not known. */
export type ReceiverOutcomes = (ReceiverOutcome | null)[];

export function submitsPerReceiver(message: OutboundMessage): boolean {
  return message.platform === 'sms' && message.recipients.length > 1;
}

/** Submits each receiver on its own; the combined result, with what is already known per receiver. */
export async function sendPerReceiver(send: (message: OutboundMessage) => Promise<SendResult>, message: OutboundMessage): Promise<SendResult & { outcomes?: ReceiverOutcomes; partReceivers?: number[] }> {
  const results: SendResult[] = [];
  // One after the other: the provider sees the receivers in order, and a channel's send rate is not
  // exceeded by one message's burst.
  for (let i = 0; i < message.recipients.length; i++) {
    const one = { ...message, recipients: [message.recipients[i]], receiverIndex: i };
    results.push(
      await send(one).catch((err: Error): SendResult => ({ ok: false, retryable: true, failure: failures.dependencyError(err.message, message.channel.platformId) })),
    );
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length === results.length) {
    // Nothing went out: the message failed (or is retried) like a single-receiver one, with the first receiver's failure.
    const retryable = failed.every((r) => !r.ok && r.retryable);
    const first = failed[0] as Extract<SendResult, { ok: false }>;
    return { ...first, retryable };
  }
  const outcomes: ReceiverOutcomes = results.map((r) =>
    r.ok ? null : { status: 'sending_failed', failure: r.failure, reason: r.reason ?? r.failure.description, ...(r.details !== undefined ? { details: r.details } : {}) },
  );
  const ok = results.filter((r): r is Extract<SendResult, { ok: true }> => r.ok);
  return {
    ok: true,
    parts: ok.flatMap((r) => r.parts),
    // Which receiver each part went to, so receipts by reference find their receiver (receipts.ts).
    partReceivers: results.flatMap((r, i) => (r.ok ? r.parts.map(() => i) : [])),
    chargeableUnits: ok.reduce((n, r) => n + (r.chargeableUnits ?? r.parts.length), 0),
    followUps: ok.flatMap((r) => r.followUps ?? []),
    outcomes,
  };
}

/** The message's final status once every receiver has an outcome; undefined while any is pending. */
export function finalStatus(outcomes: ReceiverOutcomes): Omit<Transition, 'workspaceId' | 'messageId' | 'at' | 'nextAttemptAt'> | undefined {
  if (outcomes.some((o) => o === null)) return undefined;
  const failed = outcomes.filter((o) => o!.status !== 'delivered') as ReceiverOutcome[];
  if (failed.length === 0) return { status: 'delivered', from: ['sent'] };
  const first = failed[0];
  return {
    status: 'delivery_failed',
    from: ['sent'],
    failure: first.failure ?? null,
    reason: first.reason ?? first.failure?.description ?? null,
    details: `${failed.length} of ${outcomes.length} receivers failed${first.details ? `; first: ${first.details}` : ''}`,
  };
}

/**
 * Applies receipts that name a receiver: each moves its receiver forward once (a duplicate or stale
 * receipt changes nothing), and a message whose receivers all have an outcome gets its final status.
 * The messages are locked, so receipts for two receivers applied at once by two workers cannot lose one.
 */
export async function applyReceiverReceipts(trx: Db, events: ConnectorEventRow[]): Promise<Transition[]> {
  if (events.length === 0) return [];
  const keys = [...new Map(events.map((e) => [`${e.workspace_id}|${(e.payload as { messageId: string }).messageId}`, e])).values()];
  const rows = (
    await sql<{ workspace_id: string; id: string; status: string; receiver_outcomes: ReceiverOutcomes | null }>`
      select m.workspace_id, m.id, m.status, m.receiver_outcomes from messages m
      join unnest(${keys.map((e) => e.workspace_id)}::uuid[], ${keys.map((e) => (e.payload as { messageId: string }).messageId)}::uuid[]) as k(w, i)
        on m.workspace_id = k.w and m.id = k.i
      order by m.workspace_id, m.id
      for update of m`.execute(trx)
  ).rows;
  const byId = new Map(rows.map((r) => [`${r.workspace_id}|${r.id}`, r]));
  const changed = new Map<string, { row: (typeof rows)[number]; at: Date }>();
  for (const e of events) {
    const ev = e.payload as Extract<ProviderEvent, { kind: 'status' }>;
    const row = byId.get(`${e.workspace_id}|${ev.messageId}`);
    const outcomes = row?.receiver_outcomes;
    if (!row || !outcomes || ev.receiver === undefined || ev.receiver < 0 || ev.receiver >= outcomes.length) continue;
    // `sent` receipts say nothing the message does not already say; finals apply once per receiver.
    if (ev.status === 'sent' || outcomes[ev.receiver] !== null) continue;
    outcomes[ev.receiver] = {
      status: ev.status,
      ...(ev.failure ? { failure: ev.failure } : {}),
      ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
      ...(ev.details !== undefined ? { details: ev.details } : {}),
    };
    changed.set(`${row.workspace_id}|${row.id}`, { row, at: e.due_at });
  }
  const transitions: Transition[] = [];
  const updates: { workspace_id: string; id: string; receiver_outcomes: ReceiverOutcomes }[] = [];
  for (const { row, at } of changed.values()) {
    const outcomes = row.receiver_outcomes!;
    const final = row.status === 'sent' ? finalStatus(outcomes) : undefined;
    if (final) transitions.push({ workspaceId: row.workspace_id, messageId: row.id, at, nextAttemptAt: null, receiverOutcomes: outcomes, ...final });
    else updates.push({ workspace_id: row.workspace_id, id: row.id, receiver_outcomes: outcomes });
  }
  if (updates.length) {
    await sql`
      update messages m set receiver_outcomes = t.receiver_outcomes
      from json_to_recordset(${JSON.stringify(updates)}::json) as t(workspace_id uuid, id uuid, receiver_outcomes jsonb)
      where m.workspace_id = t.workspace_id and m.id = t.id`.execute(trx);
  }
  return transitions;
}

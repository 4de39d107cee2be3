import type { Channel } from '../channels/channels.ts';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { ConnectorEventRow } from './claim.ts';
import { allowedFrom } from '../messages/lifecycle.ts';
import { applyTransitions, type Transition } from '../messages/status-writer.ts';
import { applyReceiverReceipts } from './receivers.ts';
import { inboundFrom } from './inbound-events.ts';
import { recordInbounds, type InboundInput } from '../messages/inbound.ts';
import { applyReceipts, RECEIPT_RETRY_MS, type PartRow } from './receipts.ts';

// What providers report after a send. Receipts only move a message forward (messages/lifecycle.ts):
// `delivered` and `delivery_failed` apply to a message that is `sent`; a duplicate, or a stale `sent`
// arriving after the delivery receipt, finds the message no longer in the expected status and changes
// nothing.

/**
 * Sends recorded in the same transaction as these events (outcomes.ts): their status changes, not
 * written yet, go first, and the first receipt status of a message being sent is written with its
 * `sent` as one update (status-writer.ts `next`); their parts written with their receipt already
 * (receipts.ts recordParts).
 */
export interface SendsInBatch {
  transitions: Transition[];
  parts: Map<string, PartRow>;
}

export interface Later {
  event: ConnectorEventRow;
  dueAt: Date;
}

/**
 * Applies claimed events; returns those to try again later: receipts that overtook their send
 * (receipts.ts), pieces of an inbound message waiting for the rest (inbound-events.ts). `channels`
 * holds the channels of the inbound events, loaded before the transaction (PGlite has one session:
 * a cache miss queried from inside it would wait for itself). `sends`: what the outcome writer
 * records in the same transaction (outcomes.ts).
 */
export async function applyProviderEvents(trx: Db, outbox: Outbox, channels: Map<string, Channel>, claimed: ConnectorEventRow[], now = new Date(), sends?: SendsInBatch): Promise<Later[]> {
  // Receipts by reference become status events of the message they settle, in the order claimed.
  const receipts = await applyReceipts(trx, claimed.filter((e) => (e.payload as ProviderEvent).kind === 'receipt'), now, sends?.parts);
  const settled = new Map(receipts.settled.map((s, i) => [i, s]));
  let next = 0;
  const events: ConnectorEventRow[] = [];
  for (const e of claimed) {
    if ((e.payload as ProviderEvent).kind !== 'receipt') {
      events.push(e);
      continue;
    }
    const s = settled.get(next);
    if (s && (s.event as unknown) === e.payload) {
      next++;
      const { status, failure, reason, details } = s.event;
      const payload: ProviderEvent = { kind: 'status', messageId: s.messageId, status, failure, reason, details, ...(s.receiver !== null ? { receiver: s.receiver } : {}) };
      events.push({ ...e, message_id: s.messageId, payload });
    }
  }
  // A message's first status after its `sent` in this batch rides in the same update (a receiver's
  // receipt does not: its message's status follows from all its receivers, read from the row).
  const sending = new Map((sends?.transitions ?? []).filter((t) => t.status === 'sent').map((t) => [`${t.workspaceId}:${t.messageId}`, t]));
  const folded = new Set<ConnectorEventRow>();
  for (const e of events) {
    const event = e.payload as ProviderEvent;
    if (event.kind !== 'status' || event.receiver !== undefined) continue;
    const key = `${e.workspace_id}:${event.messageId}`;
    const send = sending.get(key);
    if (!send || !allowedFrom(event.status).includes('sent')) continue;
    sending.delete(key);
    send.next = {
      status: event.status,
      at: e.due_at,
      ...(event.failure ? { failure: event.failure } : {}),
      ...(event.reason !== undefined ? { reason: event.reason } : {}),
      ...(event.details !== undefined ? { details: event.details } : {}),
    };
    folded.add(e);
  }
  await applyTransitions(trx, outbox, sends?.transitions ?? []);
  // Receipts for one receiver of a message sent receiver by receiver: the message's status follows
  // from all its receivers (receivers.ts).
  const perReceiver = events.filter((e) => (e.payload as ProviderEvent).kind === 'status' && (e.payload as { receiver?: number }).receiver !== undefined);
  const transitions: Transition[] = await applyReceiverReceipts(trx, perReceiver);
  const inbound: Array<{ channel: Channel; input: InboundInput }> = [];
  const later: Later[] = receipts.later.map((event) => ({ event, dueAt: new Date(now.getTime() + RECEIPT_RETRY_MS) }));
  for (const e of events) {
    const event = e.payload as ProviderEvent;
    if ((event.kind === 'status' && event.receiver !== undefined) || folded.has(e)) continue;
    if (event.kind === 'status') {
      transitions.push({
        workspaceId: e.workspace_id,
        messageId: event.messageId,
        status: event.status,
        at: e.due_at,
        ...(event.failure ? { failure: event.failure } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
        ...(event.details !== undefined ? { details: event.details } : {}),
        nextAttemptAt: null,
      });
    } else if (event.kind === 'inbound') {
      const channel = channels.get(`${e.workspace_id}:${e.channel_id}`);
      if (!channel) continue;
      const found = await inboundFrom(trx, e, now);
      if (found && 'later' in found) later.push({ event: e, dueAt: found.later });
      else if (found) inbound.push({ channel, input: found.input });
    }
  }
  await recordInbounds(trx, outbox, inbound);
  // One at a time per message keeps their order: a duplicate must see the first one applied.
  for (const group of byRound(transitions)) await applyTransitions(trx, outbox, group);
  return later;
}

/** Splits transitions into rounds in which each message appears at most once, keeping order. */
function byRound(transitions: Transition[]): Transition[][] {
  const rounds: Transition[][] = [];
  const seen = new Map<string, number>();
  for (const t of transitions) {
    const n = seen.get(t.messageId) ?? 0;
    seen.set(t.messageId, n + 1);
    (rounds[n] ??= []).push(t);
  }
  return rounds;
}

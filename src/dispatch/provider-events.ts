import type { ChannelCache } from '../channels/channel-cache.ts';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import { recordInbound } from '../messages/inbound.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { ConnectorEventRow } from './claim.ts';
import { applyTransitions, type Transition } from '../messages/status-writer.ts';
import { applyReceiverReceipts } from './receivers.ts';
import { applyReceipts } from './receipts.ts';

// What providers report after a send. Receipts only move a message forward (messages/lifecycle.ts):
// `delivered` and `delivery_failed` apply to a message that is `sent`; a duplicate, or a stale `sent`
// arriving after the delivery receipt, finds the message no longer in the expected status and changes
// nothing.

/** Applies claimed events; returns those to try again later (receipts that overtook their send, receipts.ts). */
export async function applyProviderEvents(trx: Db, outbox: Outbox, channels: ChannelCache, claimed: ConnectorEventRow[], now = new Date()): Promise<ConnectorEventRow[]> {
  // Receipts by reference become status events of the message they settle, in the order claimed.
  const receipts = await applyReceipts(trx, claimed.filter((e) => (e.payload as ProviderEvent).kind === 'receipt'), now);
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
  // Receipts for one receiver of a message sent receiver by receiver: the message's status follows
  // from all its receivers (receivers.ts).
  const perReceiver = events.filter((e) => (e.payload as ProviderEvent).kind === 'status' && (e.payload as { receiver?: number }).receiver !== undefined);
  const transitions: Transition[] = await applyReceiverReceipts(trx, perReceiver);
  for (const e of events) {
    const event = e.payload as ProviderEvent;
    if (event.kind === 'status' && event.receiver !== undefined) continue;
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
      const channel = await channels.get(e.workspace_id, e.channel_id);
      if (!channel) continue;
      await recordInbound(trx, outbox, channel, {
        contact: { key: event.contact.identifierKey, value: event.contact.identifierValue },
        body: event.body,
        replyTo: event.replyTo,
        meta: event.meta,
        at: e.due_at,
      });
    }
  }
  // One at a time per message keeps their order: a duplicate must see the first one applied.
  for (const group of byRound(transitions)) await applyTransitions(trx, outbox, group);
  return receipts.later;
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

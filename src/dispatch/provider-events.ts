import type { ChannelCache } from '../channels/channel-cache.ts';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import { recordInbound } from '../messages/inbound.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { ConnectorEventRow } from './claim.ts';
import { applyTransitions, type Transition } from '../messages/status-writer.ts';
import { applyReceiverReceipts } from './receivers.ts';

// What providers report after a send. Receipts only move a message forward (messages/lifecycle.ts):
// `delivered` and `delivery_failed` apply to a message that is `sent`; a duplicate, or a stale `sent`
// arriving after the delivery receipt, finds the message no longer in the expected status and changes
// nothing.

export async function applyProviderEvents(trx: Db, outbox: Outbox, channels: ChannelCache, events: ConnectorEventRow[]): Promise<void> {
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

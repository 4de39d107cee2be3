// The life of a message, in one place: Bird's statuses and the moves between them. Every status
// writer goes through status-writer.ts, which applies a move only from a status this table allows
// (a duplicate or late receipt, or a cancel racing a claim, then changes nothing). docs/lifecycle.md
// draws the same graph.

/** Bird's message statuses (also what a webhook `messageStatus` filter may name). */
export const MESSAGE_STATUSES = [
  'accepted',
  'rejected',
  'processing',
  'scheduled',
  'sent',
  'sending_failed',
  'delivered',
  'delivery_failed',
  'deleted',
  'skipped',
] as const;

export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * Allowed moves, to -> from. A message is created `accepted` or `rejected` (outgoing) or `delivered`
 * (incoming), never moved there. Receipts only move forward: `sent` comes from `processing` only, so a
 * stale `sent` after the delivery receipt changes nothing; `deleted` (DELETE) only before the message
 * is handed to a provider.
 */
export const MOVES: Readonly<Record<MessageStatus, readonly MessageStatus[]>> = {
  accepted: [],
  rejected: [],
  scheduled: ['accepted'],
  processing: ['accepted', 'scheduled'],
  sent: ['processing'],
  sending_failed: ['accepted', 'scheduled', 'processing'],
  delivered: ['sent'],
  delivery_failed: ['sent'],
  deleted: ['accepted', 'scheduled'],
  skipped: ['accepted', 'scheduled', 'processing'],
};

/** Statuses in which a message still has dispatch work ahead of it. */
export const PENDING_STATUSES: readonly string[] = ['accepted', 'scheduled', 'processing'] satisfies MessageStatus[];

/**
 * The statuses a move to `to` may apply from: the table's, narrowed to `only` when the writer knows
 * more (the dispatcher moves a message only from the status it claimed it in).
 */
export function allowedFrom(to: MessageStatus, only?: readonly string[]): MessageStatus[] {
  return MOVES[to].filter((s) => !only || only.includes(s));
}

export function isMessageStatus(value: unknown): value is MessageStatus {
  return typeof value === 'string' && (MESSAGE_STATUSES as readonly string[]).includes(value);
}

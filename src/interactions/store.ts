import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Channel } from '../channels/channels.ts';
import type { Db } from '../db/database.ts';
import type { InteractionsTable, MessageContact, MessageRow } from '../db/schema.ts';
import { keysetPage, pageOrder, type PageRequest } from '../db/keyset-page.ts';
import { uuidv7 } from '../ids.ts';
import { addSuppression } from '../suppressions/store.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { emitInteractionEvent } from './interaction-events.ts';
import type { InteractionType } from './rules.ts';

// Stored interactions and Bird's interaction object. The shape follows Bird's examples (the RCS and
// Apple Messages interaction pages, the `<platform>.interaction` webhook payload):
//   {id, type, createdAt, messageId, channelId, platformId, messageReference, messagePartsCount,
//    messageTags, receiver: {contacts: [<the contact who interacted>]}, details?, metadata?}

export type InteractionRow = Selectable<InteractionsTable>;


export interface NewInteraction {
  type: InteractionType;
  contact: MessageContact;
  details?: string | null;
  metadata?: Record<string, unknown> | null;
  at?: Date;
}

export type InteractionJson = Record<string, unknown>;

export function interactionJson(r: InteractionRow): InteractionJson {
  const out: InteractionJson = {
    id: r.id,
    type: r.type,
    createdAt: r.created_at.toISOString(),
    messageId: r.message_id,
    channelId: r.channel_id,
    platformId: r.platform_id,
    messageReference: r.message_reference,
    messagePartsCount: r.message_parts_count,
    messageTags: r.message_tags && r.message_tags.length ? r.message_tags : null,
    receiver: r.receiver,
  };
  if (r.details != null) out.details = r.details;
  if (r.metadata != null) out.metadata = r.metadata;
  return out;
}

export function messageReferenceOf(message: MessageRow): string {
  const parts = (message.parts as { platformReference?: string }[] | null) ?? [];
  return message.platform_reference ?? parts[0]?.platformReference ?? '';
}

export function messagePartsCountOf(message: MessageRow): number {
  const parts = (message.parts as unknown[] | null) ?? [];
  return parts.length;
}

/**
 * Records one interaction on an outgoing message, in the caller's transaction, with its side effects:
 * an unsubscribe-request puts the contact's identifier on the workspace suppression list, so later
 * sends to it are `skipped`.
 */
export async function recordInteraction(trx: Db, outbox: Outbox, channel: Channel, message: MessageRow, input: NewInteraction): Promise<InteractionRow> {
  const at = input.at ?? new Date();
  const row: InteractionRow = {
    workspace_id: channel.workspaceId,
    id: uuidv7(at.getTime()),
    channel_id: channel.id,
    message_id: message.id,
    type: input.type,
    platform_id: channel.platformId,
    message_reference: messageReferenceOf(message),
    message_parts_count: messagePartsCountOf(message),
    message_tags: message.tags?.length ? message.tags : null,
    receiver: { contacts: [input.contact] },
    details: input.details ?? null,
    metadata: input.metadata ?? null,
    created_at: at,
  };
  await sql`
    insert into interactions (workspace_id, id, channel_id, message_id, type, platform_id, message_reference,
      message_parts_count, message_tags, receiver, details, metadata, created_at)
    values (${row.workspace_id}, ${row.id}, ${row.channel_id}, ${row.message_id}, ${row.type}, ${row.platform_id},
      ${row.message_reference}, ${row.message_parts_count}, ${row.message_tags}::text[], ${JSON.stringify(row.receiver)}::jsonb,
      ${row.details}, ${row.metadata == null ? null : JSON.stringify(row.metadata)}::jsonb, ${row.created_at})`.execute(trx);
  // `<platform>.interaction` webhooks, in the same transaction.
  await emitInteractionEvent(trx, outbox, channel, message, row.type, interactionJson(row));
  if (input.type === 'unsubscribe-request') {
    await addSuppression(trx, channel.workspaceId, { key: input.contact.identifierKey, value: input.contact.identifierValue, reason: 'unsubscribe-request' }, at);
  }
  return row;
}

/** One message's interactions, oldest first, keyset-paginated on (created_at, id). */
export async function listInteractions(
  db: Db,
  workspaceId: string,
  messageId: string,
  page: PageRequest,
): Promise<{ rows: InteractionRow[]; nextPageToken: string | null }> {
  // Oldest first: a message's interactions read as a timeline.
  const order = pageOrder(page, 'asc');
  const after = page.after;
  const r = await sql<InteractionRow>`
    select * from interactions
    where workspace_id = ${workspaceId} and message_id = ${messageId}
      ${after ? sql`and (created_at, id) ${sql.raw(order === 'asc' ? '>' : '<')} (${after.createdAt}, ${after.id})` : sql``}
    order by created_at ${sql.raw(order)}, id ${sql.raw(order)}
    limit ${page.limit + 1}`.execute(db);
  return keysetPage(r.rows, page.limit);
}

/** The last reaction emoji a contact left on a message (for an unreact that names none). */
export async function lastReactionEmoji(db: Db, workspaceId: string, messageId: string, contactId: string): Promise<string | undefined> {
  const r = await sql<{ emoji: string | null }>`
    select metadata #>> '{reaction,emoji}' as emoji from interactions
    where workspace_id = ${workspaceId} and message_id = ${messageId} and type = 'reaction'
      and receiver #>> '{contacts,0,id}' = ${contactId}
      and metadata #>> '{reaction,action}' = 'react'
    order by created_at desc, id desc
    limit 1`.execute(db);
  return r.rows[0]?.emoji ?? undefined;
}

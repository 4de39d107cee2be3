import { sql, type SqlBool } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { afterPosition, keysetPage, type PageRequest } from '../db/keyset-page.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { readPageQuery } from '../http/page-query.ts';
import { singleParam, type Query } from '../http/query.ts';
import { isUuid } from '../ids.ts';

// The inbox's reads of messages. Bird's list endpoint ANDs its filters and has no text search; the
// inbox needs "this contact, either direction" and "messages mentioning ...", so it has its own
// query. Every page is walked by keyset on (created_at, id), newest first, along the
// (workspace_id[, channel_id], created_at, id) indexes: a page costs the same on a workspace of a
// million messages as on an empty one, except where a filter matches rarely (text, a rare tag),
// where the scan goes on until it has a page or runs out. The contact filter (the conversation view)
// is the rare match that matters most, so it has indexes of its own (migration 0013).

export interface InboxFilter extends PageRequest {
  channelId?: string;
  /** A contact's identifier: messages to it (outgoing) or from it (incoming). */
  contact?: string;
  platforms?: string[];
  statuses?: string[];
  tag?: string;
  text?: string;
}

export const INBOX_PAGE = { defaultLimit: 50, maxLimit: 200 };

function list(q: Query, key: string, details: ErrorDetails): string[] | undefined {
  const v = singleParam(q, key, details);
  const values = v?.split(',').map((s) => s.trim()).filter(Boolean);
  return values?.length ? values : undefined;
}

export function parseInboxQuery(q: Query): InboxFilter {
  const details: ErrorDetails = {};
  const page = readPageQuery(q, INBOX_PAGE, details);
  const channelId = singleParam(q, 'channelId', details);
  if (channelId !== undefined && !isUuid(channelId)) details.channelId = ['must be a UUID'];
  const text = singleParam(q, 'text', details)?.trim();
  if (text && text.length > 200) details.text = ['must be at most 200 characters'];
  const filter: InboxFilter = {
    ...page,
    channelId,
    contact: singleParam(q, 'contact', details)?.trim() || undefined,
    platforms: list(q, 'platform', details),
    statuses: list(q, 'status', details),
    tag: singleParam(q, 'tag', details)?.trim().toLowerCase() || undefined,
    text: text || undefined,
  };
  if (Object.keys(details).length) throw errors.invalidQuery(details);
  return filter;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function searchMessages(db: Db, workspaceId: string, f: InboxFilter): Promise<{ rows: MessageRow[]; nextPageToken: string | null }> {
  let q = db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId);
  if (f.channelId) q = q.where('channel_id', '=', f.channelId);
  if (f.after) q = q.where(afterPosition(f.after, 'desc'));
  if (f.platforms) q = q.where('platform', 'in', f.platforms);
  if (f.statuses) q = q.where('status', 'in', f.statuses);
  if (f.tag) q = q.where(sql<SqlBool>`tags && ${[f.tag]}::text[]`);
  if (f.contact) {
    const v = f.contact;
    q = q.where(
      // Shaped for the partial indexes of migration 0013 (messages_from_contact, messages_to_contact).
      sql<SqlBool>`((direction = 'incoming' and lower(from_identifier) = lower(${v})) or (direction = 'outgoing' and to_identifiers && ${[...new Set([v, v.toLowerCase()])]}::text[]))`,
    );
  }
  if (f.text) {
    // The body as JSON text: it finds words anywhere in a message (texts, titles, buttons, captions)
    // without a column per body type; the cost is that a JSON key ("text") matches too.
    q = q.where(sql<SqlBool>`(body::text ilike ${likePattern(f.text)} or coalesce(email_subject, '') ilike ${likePattern(f.text)})`);
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
  return keysetPage(rows, f.limit);
}

export interface Conversation {
  contact: string;
  lastAt: string;
  lastMessageId: string;
  count: number;
}

/** How many of a channel's newest messages the conversation list is made of. */
export const CONVERSATION_WINDOW = 2000;

/**
 * A channel's conversations: its contacts, most recently active first, taken from the channel's
 * newest CONVERSATION_WINDOW messages (an index range). A contact silent for longer than that is
 * not listed, but is still found by searching for it: the trade keeps the list instant on a
 * channel of any size.
 */
export async function listConversations(db: Db, workspaceId: string, channelId: string): Promise<Conversation[]> {
  const r = await sql<{ contact: string; last_at: Date; last_id: string; count: string }>`
    with recent as (
      select id, created_at,
        case when direction = 'incoming' then from_identifier else to_identifiers[1] end as contact
      from messages
      where workspace_id = ${workspaceId} and channel_id = ${channelId}
      order by created_at desc, id desc
      limit ${CONVERSATION_WINDOW}
    )
    select contact, max(created_at) as last_at, (array_agg(id order by created_at desc, id desc))[1] as last_id, count(*) as count
    from recent where contact is not null
    group by contact
    order by last_at desc
    limit 200`.execute(db);
  return r.rows.map((row) => ({ contact: row.contact, lastAt: new Date(row.last_at).toISOString(), lastMessageId: row.last_id, count: Number(row.count) }));
}

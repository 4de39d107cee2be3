import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { interactionJson, type InteractionJson } from '../interactions/store.ts';
import { messageJson, type MessageJson } from '../messages/message-json.ts';

// What the inbox shows of a message: Bird's Message object, every status it has been in (the
// lifecycle as message_status_history keeps it) and its interactions. Read for a whole page at once,
// two index range reads, so a conversation of 50 messages is three queries rather than a hundred
// requests.

export interface StatusEntry {
  status: string;
  at: string;
  reason: string | null;
  failure: unknown;
}

export interface InboxItem {
  message: MessageJson;
  history: StatusEntry[];
  interactions: InteractionJson[];
}

/** At most this many interactions per message are shown (a viral message may have thousands). */
const INTERACTIONS_SHOWN = 100;

export async function withTimelines(db: Db, workspaceId: string, rows: MessageRow[]): Promise<InboxItem[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [history, interactions] = await Promise.all([
    db
      .selectFrom('message_status_history')
      .select(['message_id', 'status', 'at', 'reason', 'failure'])
      .where('workspace_id', '=', workspaceId)
      .where('message_id', 'in', ids)
      .orderBy('message_id')
      .orderBy('seq')
      .execute(),
    db
      .selectFrom('interactions')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('message_id', 'in', ids)
      .orderBy('created_at')
      .orderBy('id')
      .limit(INTERACTIONS_SHOWN * ids.length)
      .execute(),
  ]);
  const byMessage = new Map<string, InboxItem>(rows.map((r) => [r.id, { message: messageJson(r), history: [], interactions: [] }]));
  for (const h of history) {
    byMessage.get(h.message_id)?.history.push({ status: h.status, at: new Date(h.at).toISOString(), reason: h.reason, failure: h.failure ?? null });
  }
  for (const i of interactions) {
    const item = byMessage.get(i.message_id);
    if (item && item.interactions.length < INTERACTIONS_SHOWN) item.interactions.push(interactionJson(i));
  }
  return rows.map((r) => byMessage.get(r.id)!);
}

export async function messagesByIds(db: Db, workspaceId: string, ids: string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId).where('id', 'in', ids).execute();
}

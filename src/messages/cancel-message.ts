import type { Db } from '../db/database.ts';
import { applyTransitions } from './status-writer.ts';
import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Outbox } from '../webhooks/emit.ts';

// DELETE on a message cancels it while it has not been handed to a provider: accepted or scheduled
// messages become `deleted` (lifecycle.ts). The transition is guarded by status, so a dispatcher that claims the
// message at the same moment and a cancel cannot both win.
export async function cancelMessage(db: Db, outbox: Outbox, workspaceId: string, channelId: string, messageId: string, at: Date): Promise<void> {
  if (!isUuid(messageId)) throw errors.notFound('message');
  const current = await db
    .selectFrom('messages')
    .select(['status', 'direction'])
    .where('workspace_id', '=', workspaceId)
    .where('channel_id', '=', channelId)
    .where('id', '=', messageId)
    .executeTakeFirst();
  if (!current) throw errors.notFound('message');
  const [row] = await applyTransitions(db, outbox, [
    { workspaceId, messageId, status: 'deleted', at, nextAttemptAt: null },
  ]);
  if (!row) throw errors.conflict(`The message can no longer be deleted: its status is ${current.status}`);
}

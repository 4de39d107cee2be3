import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { EVENTS_CHANNEL } from '../db/notify-channels.ts';
import { GroupCommit } from '../db/group-commit.ts';
import { uuidv7 } from '../ids.ts';
import type { ProviderEvent } from './connector.ts';

// The one durable path for what providers report: receipts and inbound messages from a session (an
// SMPP deliver_sm), from an HTTP callback, or scheduled by the sandbox all become connector_events
// rows, applied by the dispatcher (dispatch/provider-events.ts); the one shortcut is a session's
// receipt for a known part, applied as it is committed (dispatch/session-reports.ts). Writing the row
// is all that happens before the provider is acknowledged, so an acknowledged report survives a
// crash, and applying it (matching a reference, creating a contact) never holds the provider's
// connection.

export interface ReportRow {
  workspace_id: string;
  id: string;
  channel_id: string;
  message_id: string | null;
  kind: string;
  payload: string;
  due_at: Date;
  correlation: string | null;
}

/** `at`: when it is written (the clock's time), which its time-ordered id carries; `dueAt` may be later. */
export function reportRow(channel: { workspaceId: string; id: string }, event: ProviderEvent, dueAt: Date, at: Date = dueAt): ReportRow {
  return {
    workspace_id: channel.workspaceId,
    id: uuidv7(at.getTime()),
    channel_id: channel.id,
    message_id: event.kind === 'status' ? event.messageId : null,
    kind: event.kind,
    payload: JSON.stringify(event),
    due_at: dueAt,
    correlation: event.kind === 'inbound' && event.part ? event.part.key : null,
  };
}

/**
 * `notify` wakes the events loops of every process (LISTEN): reports from a session or a callback
 * (which may land on an API-only process) are due now. Follow-ups scheduled with a send are not: the
 * worker that recorded them wakes its own events loop, which sleeps until they are due.
 */
export async function insertReports(trx: Db, rows: ReportRow[], o: { notify?: boolean } = {}): Promise<void> {
  if (rows.length === 0) return;
  await trx.insertInto('connector_events').values(rows).execute();
  if (o.notify) await sql`select pg_notify(${EVENTS_CHANNEL}, '')`.execute(trx);
}

/**
 * Reports from live sessions, group-committed: an SMSC pushing a thousand receipts a second pays a
 * handful of transactions, and each report resolves when its batch has committed (then the session
 * acknowledges it). `afterCommit` wakes the dispatcher that applies them.
 */
export function reportWriter(db: Db, afterCommit: () => void): GroupCommit<ReportRow[], void> {
  return new GroupCommit<ReportRow[], void>(
    db,
    async (trx, batches) => {
      await insertReports(trx, batches.flat(), { notify: true });
      return batches.map(() => undefined);
    },
    { maxConcurrent: 2, maxBatch: 500, afterCommit },
  );
}

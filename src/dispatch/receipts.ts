import { sql } from 'kysely';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import { uuidv7Time } from '../ids.ts';
import type { ConnectorEventRow } from './claim.ts';

// Receipts that name the provider's reference of one part (SMPP message_id, an email's Message-ID).
// message_parts maps each reference to its message; a receipt is applied to its part once (a part that
// already has a final receipt ignores the next), and the message moves when the channel's settlement
// rule says the parts settle it: 'any' part, the 'last' part, or 'all' parts (the worst wins).
// A receipt can overtake the recording of its send (the SMSC answers deliver_sm before we committed
// the submit_sm_resp): its reference is not known yet, so the event waits and is tried again, for up
// to RECEIPT_WAIT_MS after it arrived; a reference still unknown then was never ours, and is dropped.

export const RECEIPT_WAIT_MS = 10 * 60_000;
/** How soon a receipt that overtook the recording of its send is tried again. */
export const RECEIPT_RETRY_MS = 250;
const FINAL = ['delivered', 'delivery_failed'];

export interface PartRecord {
  workspaceId: string;
  channelId: string;
  messageId: string;
  references: string[];
  /** Receiver of each reference, for a message sent receiver by receiver. */
  receivers?: number[];
}

/** Records every part's reference of sends just made, with the status change that records the send. */
export async function recordParts(trx: Db, records: PartRecord[]): Promise<void> {
  const rows = records.flatMap((r) => {
    const counts = new Map<number | null, number>();
    for (let i = 0; i < r.references.length; i++) counts.set(r.receivers?.[i] ?? null, (counts.get(r.receivers?.[i] ?? null) ?? 0) + 1);
    const seen = new Map<number | null, number>();
    return r.references.map((ref, i) => {
      const receiver = r.receivers?.[i] ?? null;
      const index = (seen.get(receiver) ?? 0) + 1;
      seen.set(receiver, index);
      return { workspace_id: r.workspaceId, channel_id: r.channelId, platform_reference: ref, message_id: r.messageId, part_index: index, part_count: counts.get(receiver)!, receiver };
    });
  });
  if (rows.length === 0) return;
  await sql`
    insert into message_parts (workspace_id, channel_id, platform_reference, message_id, part_index, part_count, receiver)
    select * from json_to_recordset(${JSON.stringify(rows)}::json) as t(workspace_id uuid, channel_id uuid, platform_reference text, message_id uuid, part_index integer, part_count integer, receiver integer)
    on conflict (workspace_id, channel_id, platform_reference) do update set
      message_id = excluded.message_id, part_index = excluded.part_index, part_count = excluded.part_count, receiver = excluded.receiver,
      receipt_status = null, receipt_at = null`.execute(trx);
}

export type SettledReceipt = { messageId: string; receiver: number | null; event: Extract<ProviderEvent, { kind: 'receipt' }> };

/**
 * Applies receipt events to their parts. Returns the messages they settle and the events to try again
 * later (their reference is not recorded yet).
 */
export async function applyReceipts(trx: Db, events: ConnectorEventRow[], now: Date): Promise<{ settled: SettledReceipt[]; later: ConnectorEventRow[] }> {
  const settled: SettledReceipt[] = [];
  const later: ConnectorEventRow[] = [];
  for (const e of events) {
    const receipt = e.payload as Extract<ProviderEvent, { kind: 'receipt' }>;
    const updated = await sql<{ message_id: string; part_index: number; part_count: number; receiver: number | null }>`
      update message_parts set receipt_status = ${receipt.status}, receipt_at = ${now}
      where workspace_id = ${e.workspace_id} and channel_id = ${e.channel_id} and platform_reference = ${receipt.reference}
        and (receipt_status is null or receipt_status not in ('delivered', 'delivery_failed'))
      returning message_id, part_index, part_count, receiver`.execute(trx);
    const part = updated.rows[0];
    if (!part) {
      // Nothing updated: a duplicate (the part has its final receipt), or a part not recorded yet. Read
      // again to tell which; the send's commit can land between the two statements (each sees what was
      // committed when it began), and a part that has appeared without a final receipt is tried again,
      // not taken for a duplicate.
      const known = await sql<{ receipt_status: string | null }>`select receipt_status from message_parts
        where workspace_id = ${e.workspace_id} and channel_id = ${e.channel_id} and platform_reference = ${receipt.reference}`.execute(trx);
      const duplicate = known.rows.length > 0 && FINAL.includes(known.rows[0].receipt_status ?? '');
      if (!duplicate && now.getTime() - uuidv7Time(e.id) < RECEIPT_WAIT_MS) later.push(e);
      continue;
    }
    if (!FINAL.includes(receipt.status)) continue;
    const rule = receipt.settles ?? 'any';
    if (rule === 'last' && part.part_index !== part.part_count) continue;
    if (rule === 'all' || part.part_count > 1) {
      const parts = await sql<{ receipt_status: string | null }>`
        select receipt_status from message_parts where workspace_id = ${e.workspace_id} and message_id = ${part.message_id}
          and receiver is not distinct from ${part.receiver}`.execute(trx);
      if (rule === 'all') {
        if (!parts.rows.every((p) => FINAL.includes(p.receipt_status ?? ''))) continue;
        // The worst part decides: one part that failed means the message did not arrive whole.
        if (receipt.status === 'delivered' && parts.rows.some((p) => p.receipt_status === 'delivery_failed')) continue;
      }
    }
    settled.push({ messageId: part.message_id, receiver: part.receiver, event: receipt });
  }
  return { settled, later };
}

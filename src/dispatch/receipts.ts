import { sql } from 'kysely';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import type { MessagePartsTable } from '../db/tables/messages.ts';
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

/** A part, as the receipts below read it. */
export type PartRow = Omit<MessagePartsTable, 'receipt_status' | 'receipt_at'>;

export const partKey = (workspaceId: string, channelId: string, reference: string) => `${workspaceId}|${channelId}|${reference}`;

/**
 * Records every part's reference of sends just made, with the status change that records the send.
 * `receipts`: receipts of these parts applied in the same transaction (they rode with the send,
 * session-reports.ts), by partKey: each part is written with its receipt rather than written and then
 * updated by applyReceipts. Returns the parts so written, for applyReceipts (`written`).
 */
export async function recordParts(trx: Db, records: PartRecord[], receipts = new Map<string, ConnectorEventRow>(), now = new Date()): Promise<Map<string, PartRow>> {
  const written = new Map<string, PartRow>();
  const rows = records.flatMap((r) => {
    const counts = new Map<number | null, number>();
    for (let i = 0; i < r.references.length; i++) counts.set(r.receivers?.[i] ?? null, (counts.get(r.receivers?.[i] ?? null) ?? 0) + 1);
    const seen = new Map<number | null, number>();
    return r.references.map((ref, i) => {
      const receiver = r.receivers?.[i] ?? null;
      const index = (seen.get(receiver) ?? 0) + 1;
      seen.set(receiver, index);
      const part = { workspace_id: r.workspaceId, channel_id: r.channelId, platform_reference: ref, message_id: r.messageId, part_index: index, part_count: counts.get(receiver)!, receiver };
      const key = partKey(r.workspaceId, r.channelId, ref);
      const receipt = receipts.get(key);
      if (receipt) written.set(key, part);
      return { ...part, receipt_status: receipt ? (receipt.payload as Receipt).status : null, receipt_at: receipt ? now : null };
    });
  });
  if (rows.length === 0) return written;
  await sql`
    insert into message_parts (workspace_id, channel_id, platform_reference, message_id, part_index, part_count, receiver, receipt_status, receipt_at)
    select * from json_to_recordset(${JSON.stringify(rows)}::json) as t(workspace_id uuid, channel_id uuid, platform_reference text, message_id uuid, part_index integer, part_count integer, receiver integer, receipt_status text, receipt_at timestamptz)
    on conflict (workspace_id, channel_id, platform_reference) do update set
      message_id = excluded.message_id, part_index = excluded.part_index, part_count = excluded.part_count, receiver = excluded.receiver,
      receipt_status = excluded.receipt_status, receipt_at = excluded.receipt_at`.execute(trx);
  return written;
}

/**
 * The receipt of each part that a batch applies, by partKey: the first final one if any, else the
 * first. The others of the same part are its duplicates (or intermediate states it overtakes).
 */
export function chosenReceipts(events: ConnectorEventRow[]): Map<string, ConnectorEventRow> {
  const chosen = new Map<string, ConnectorEventRow>();
  for (const e of events) {
    const receipt = e.payload as ProviderEvent;
    if (receipt.kind !== 'receipt') continue;
    const key = partKey(e.workspace_id, e.channel_id, receipt.reference);
    const had = chosen.get(key);
    if (!had || (!FINAL.includes((had.payload as Receipt).status) && FINAL.includes(receipt.status))) chosen.set(key, e);
  }
  return chosen;
}

export type SettledReceipt = { messageId: string; receiver: number | null; event: Extract<ProviderEvent, { kind: 'receipt' }> };

/**
 * Applies receipt events to their parts. Returns the messages they settle (in the order of `events`)
 * and the events to try again later (their reference is not recorded yet). A batch costs three
 * statements at most whatever its size: one UPDATE of every part named, one read of the parts it did
 * not update (duplicate, or not recorded yet?), one read of sibling parts for the 'all' rule (of
 * messages in several parts).
 */
export async function applyReceipts(trx: Db, events: ConnectorEventRow[], now: Date, written = new Map<string, PartRow>()): Promise<{ settled: SettledReceipt[]; later: ConnectorEventRow[] }> {
  const settled: SettledReceipt[] = [];
  const later: ConnectorEventRow[] = [];
  if (events.length === 0) return { settled, later };
  const keyOf = (e: ConnectorEventRow) => partKey(e.workspace_id, e.channel_id, (e.payload as Receipt).reference);
  // One event per part takes part in the UPDATE; parts written with their receipt (recordParts) need none.
  const chosen = chosenReceipts(events);
  const input = [...chosen.entries()].filter(([key]) => !written.has(key)).map(([, e]) => ({ w: e.workspace_id, c: e.channel_id, r: (e.payload as Receipt).reference, s: (e.payload as Receipt).status }));
  const updated = input.length === 0 ? { rows: [] as PartRow[] } : await sql<PartRow>`
    update message_parts p set receipt_status = t.s, receipt_at = ${now}
    from json_to_recordset(${JSON.stringify(input)}::json) as t(w uuid, c uuid, r text, s text)
    where p.workspace_id = t.w and p.channel_id = t.c and p.platform_reference = t.r
      and (p.receipt_status is null or p.receipt_status not in ('delivered', 'delivery_failed'))
    returning p.workspace_id, p.channel_id, p.platform_reference, p.message_id, p.part_index, p.part_count, p.receiver`.execute(trx);
  const parts = new Map(updated.rows.map((row) => [partKey(row.workspace_id, row.channel_id, row.platform_reference), row]));
  for (const key of chosen.keys()) {
    const part = written.get(key);
    if (part) parts.set(key, part);
  }
  // Nothing updated: a duplicate (the part has its final receipt), or a part not recorded yet. Read
  // again to tell which; the send's commit can land between the two statements (each sees what was
  // committed when it began), and a part that has appeared without a final receipt is tried again,
  // not taken for a duplicate.
  const missed = input.filter((i) => !parts.has(partKey(i.w, i.c, i.r)));
  const known = new Map<string, string | null>();
  if (missed.length) {
    const rows = await sql<{ workspace_id: string; channel_id: string; platform_reference: string; receipt_status: string | null }>`
      select p.workspace_id, p.channel_id, p.platform_reference, p.receipt_status from message_parts p
      join json_to_recordset(${JSON.stringify(missed)}::json) as t(w uuid, c uuid, r text) on p.workspace_id = t.w and p.channel_id = t.c and p.platform_reference = t.r`.execute(trx);
    for (const row of rows.rows) known.set(partKey(row.workspace_id, row.channel_id, row.platform_reference), row.receipt_status);
  }
  // Under the 'all' rule: the sibling parts of each message a final receipt touched, as they are now.
  // A part that is its message's (or receiver's) only one has no siblings to read.
  const siblingsOf = new Map<string, (string | null)[]>();
  const needSiblings = [...chosen.values()].filter((e) => {
    const part = parts.get(keyOf(e));
    return part && part.part_count > 1 && FINAL.includes((e.payload as Receipt).status) && (e.payload as Receipt).settles === 'all';
  });
  if (needSiblings.length) {
    const ids = needSiblings.map((e) => parts.get(keyOf(e))!);
    const rows = await sql<{ workspace_id: string; message_id: string; receiver: number | null; receipt_status: string | null }>`
      select workspace_id, message_id, receiver, receipt_status from message_parts
      where (workspace_id, message_id) in (select t.w, t.m from json_to_recordset(${JSON.stringify(ids.map((p) => ({ w: p.workspace_id, m: p.message_id })))}::json) as t(w uuid, m uuid))`.execute(trx);
    for (const row of rows.rows) {
      const k = `${row.workspace_id}|${row.message_id}|${row.receiver}`;
      siblingsOf.set(k, [...(siblingsOf.get(k) ?? []), row.receipt_status]);
    }
  }
  for (const e of events) {
    const receipt = e.payload as Receipt;
    const key = keyOf(e);
    if (chosen.get(key) !== e) continue; // a duplicate within the batch
    const part = parts.get(key);
    if (!part) {
      const duplicate = known.has(key) && FINAL.includes(known.get(key) ?? '');
      if (!duplicate && now.getTime() - uuidv7Time(e.id) < RECEIPT_WAIT_MS) later.push(e);
      continue;
    }
    if (!FINAL.includes(receipt.status)) continue;
    const rule = receipt.settles ?? 'any';
    if (rule === 'last' && part.part_index !== part.part_count) continue;
    if (rule === 'all') {
      const statuses = part.part_count === 1 ? [receipt.status] : (siblingsOf.get(`${part.workspace_id}|${part.message_id}|${part.receiver}`) ?? []);
      if (!statuses.every((st) => FINAL.includes(st ?? ''))) continue;
      // The worst part decides: one part that failed means the message did not arrive whole.
      if (receipt.status === 'delivered' && statuses.some((st) => st === 'delivery_failed')) continue;
    }
    settled.push({ messageId: part.message_id, receiver: part.receiver, event: receipt });
  }
  return { settled, later };
}

type Receipt = Extract<ProviderEvent, { kind: 'receipt' }>;

import { sql } from 'kysely';
import type { ProviderEvent } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import { uuidv7Time } from '../ids.ts';
import type { InboundInput } from '../messages/inbound.ts';
import type { ConnectorEventRow } from './claim.ts';

// A message from a contact, as a connector reported it, becomes an incoming message.
//   - Pieces of one message the provider split (a concatenated SMS: UDH or SAR) arrive as separate
//     events sharing a correlation key. Each waits in connector_events (durable, so an acknowledged
//     piece survives a crash) until the last arrives; the event that completes the set locks the
//     pieces (FOR UPDATE: two workers holding two pieces cannot both join them), stores the joined
//     message once and deletes the rest. A set still incomplete after PART_WAIT_MS is stored with
//     the pieces it has: a lost piece must not lose the message.
//   - `inReplyToReference` (an email's In-Reply-To) names a part Aviary sent: replyTo points to it.

export const PART_WAIT_MS = 10 * 60_000;

type Inbound = Extract<ProviderEvent, { kind: 'inbound' }>;

/**
 * The message the event brings, for recordInbounds (the caller stores a batch's together); or when to
 * look again (a piece waiting for the others); or nothing (a piece another one of the batch joined).
 */
export async function inboundFrom(trx: Db, e: ConnectorEventRow, now: Date): Promise<{ input: InboundInput } | { later: Date } | undefined> {
  const event = e.payload as Inbound;
  let body = event.body;
  if (event.part) {
    const pieces = (
      await sql<{ id: string; payload: Inbound }>`
        select id, payload from connector_events
        where workspace_id = ${e.workspace_id} and channel_id = ${e.channel_id} and correlation = ${event.part.key}
        order by id for update`.execute(trx)
    ).rows;
    // Joined already, by another piece of the same set in this batch.
    if (!pieces.some((p) => p.id === e.id)) return undefined;
    const texts = new Map<number, string>();
    for (const p of pieces) if (p.payload.part && !texts.has(p.payload.part.seq)) texts.set(p.payload.part.seq, p.payload.part.text);
    const firstArrived = uuidv7Time(pieces[0].id);
    if (texts.size < event.part.total && now.getTime() - firstArrived < PART_WAIT_MS) return { later: new Date(firstArrived + PART_WAIT_MS) };
    const text = [...texts.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t).join('');
    body = { ...event.body, type: 'text', text: { ...((event.body as { text?: object }).text ?? {}), text } };
    await sql`delete from connector_events where workspace_id = ${e.workspace_id} and channel_id = ${e.channel_id}
      and correlation = ${event.part.key} and id <> ${e.id}`.execute(trx);
  }
  let replyTo = event.replyTo;
  if (!replyTo && event.inReplyToReference) {
    const sent = await sql<{ message_id: string; part_index: number }>`
      select message_id, part_index from message_parts
      where workspace_id = ${e.workspace_id} and channel_id = ${e.channel_id} and platform_reference = ${event.inReplyToReference}`.execute(trx);
    if (sent.rows[0]) replyTo = { id: sent.rows[0].message_id, order: sent.rows[0].part_index, type: 'message' };
  }
  return {
    input: {
      contact: { key: event.contact.identifierKey, value: event.contact.identifierValue },
      body,
      replyTo,
      meta: event.meta,
      platformReference: event.platformReference,
      at: event.part ? new Date(uuidv7Time(e.id)) : e.due_at,
    },
  };
}

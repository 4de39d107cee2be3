import { sql } from 'kysely';
import type { Channel } from '../channels/channels.ts';
import { resolveContacts, contactIdFor, type Identifier } from '../contacts/contacts.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { uuidv7 } from '../ids.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { emitMessageEvents } from './message-events.ts';

// A message from a contact to a channel: stored `delivered`, direction `incoming`, the contact as
// sender and the channel's connector as receiver (Bird's inbound shape), and the contact's service
// window on this channel reopened.

export interface InboundInput {
  contact: Identifier;
  body: Record<string, unknown>;
  replyTo?: Record<string, unknown> | null;
  meta?: Record<string, unknown> | null;
  reference?: string | null;
  platformReference?: string;
  at?: Date;
  /** The message id, when chosen beforehand (media stored for it name it in their URLs). */
  id?: string;
}

export async function recordInbound(trx: Db, outbox: Outbox, channel: Channel, input: InboundInput): Promise<MessageRow> {
  return (await recordInbounds(trx, outbox, [{ channel, input }]))[0];
}

/**
 * Many incoming messages in a handful of statements whatever their number (contacts, messages,
 * history, service windows, webhooks: one each, contacts one per workspace), not five per message:
 * the events loop stores a claimed batch of inbound mail or SMS this way (bench/email.ts: one
 * message at a time held inbound email to about 250/s, round trips, not CPU).
 */
export async function recordInbounds(trx: Db, outbox: Outbox, items: Array<{ channel: Channel; input: InboundInput }>): Promise<MessageRow[]> {
  if (items.length === 0) return [];
  const contacts = items.map(({ input }) => ({ key: input.contact.key.toLowerCase(), value: input.contact.value.trim() }));
  const resolved = new Map<string, Map<string, string>>();
  for (const ws of new Set(items.map((i) => i.channel.workspaceId))) {
    resolved.set(ws, await resolveContacts(trx, ws, contacts.filter((_, n) => items[n].channel.workspaceId === ws)));
  }
  const contactIds = items.map(({ channel }, n) => contactIdFor(resolved.get(channel.workspaceId)!, channel.workspaceId, contacts[n])!);
  const rows = items.map(({ channel, input }, n) => inboundRow(channel, input, contacts[n], contactIds[n]));
  await sql`insert into messages select * from json_populate_recordset(null::messages, ${JSON.stringify(rows)}::json)`.execute(trx);
  await trx
    .insertInto('message_status_history')
    .values(rows.map((r) => ({ workspace_id: r.workspace_id, message_id: r.id, status: 'delivered', at: r.created_at, reason: null, failure: undefined })))
    .execute();
  // One row per (channel, contact): an upsert may not touch a row twice in one statement.
  const windows = new Map<string, { w: string; ch: string; c: string; at: Date }>();
  rows.forEach((r, n) => {
    const key = `${r.workspace_id}:${r.channel_id}:${contactIds[n]}`;
    const prev = windows.get(key);
    if (!prev || prev.at < r.created_at) windows.set(key, { w: r.workspace_id, ch: r.channel_id, c: contactIds[n], at: r.created_at });
  });
  const w = [...windows.values()];
  await sql`
    insert into channel_contacts (workspace_id, channel_id, contact_id, last_inbound_at)
    select * from unnest(${w.map((x) => x.w)}::uuid[], ${w.map((x) => x.ch)}::uuid[], ${w.map((x) => x.c)}::uuid[], ${w.map((x) => x.at.toISOString())}::timestamptz[])
    on conflict (workspace_id, channel_id, contact_id)
    do update set last_inbound_at = greatest(channel_contacts.last_inbound_at, excluded.last_inbound_at)`.execute(trx);
  // `<platform>.inbound` webhooks, in the same transaction.
  await emitMessageEvents(trx, outbox, rows);
  return rows;
}

function inboundRow(channel: Channel, input: InboundInput, contact: Identifier, contactId: string): MessageRow {
  const ws = channel.workspaceId;
  const at = input.at ?? new Date();
  const id = input.id ?? uuidv7(at.getTime());
  const platformReference = input.platformReference ?? `${id}:inbound`;
  return {
    workspace_id: ws,
    id,
    channel_id: channel.id,
    platform: channel.platform,
    direction: 'incoming',
    status: 'delivered',
    sender: { contact: { id: contactId, identifierKey: contact.key, identifierValue: contact.value } },
    receiver: { connector: { id: channel.connectorId, identifierValue: channel.senderIdentifier ?? '' } },
    body: input.body,
    template: null,
    meta: input.meta ?? { extraInformation: { timestamp: String(Math.floor(at.getTime() / 1000)) } },
    reference: input.reference ?? '',
    reply_to: input.replyTo ?? null,
    tags: [],
    short_links: null,
    scheduled_for: null,
    validity: null,
    notification_url: null,
    options: null,
    batch_id: null,
    navigator_id: null,
    from_identifier: contact.value,
    to_identifiers: channel.senderIdentifier ? [channel.senderIdentifier] : [],
    country_codes: [],
    email_subject: emailSubject(input.body),
    reason: '',
    details: null,
    failure: null,
    failure_code: null,
    failure_source_code: null,
    failure_source_name: null,
    parts: [{ platformReference }],
    chargeable_units: null,
    origin: null,
    created_at: at,
    updated_at: at,
    last_status_at: at,
    next_attempt_at: null,
    attempts: 0,
    lease_owner: null,
    lease_expires_at: null,
    platform_reference: platformReference,
    receiver_outcomes: null,
  };
}

function emailSubject(body: Record<string, unknown>): string | null {
  const b = body as { text?: { metadata?: { subject?: string } } };
  return b.text?.metadata?.subject ?? null;
}

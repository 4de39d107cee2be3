import { transaction } from '../db/after-commit.ts';
import { sql } from 'kysely';
import parsePhoneNumber from 'libphonenumber-js';
import metadata from 'libphonenumber-js/min/metadata';
import type { Channel } from '../channels/channels.ts';
import { PLATFORMS } from '../channels/platforms.ts';
import { contactIdFor, resolveContacts, resolvingContacts, type Identifier, type WantedContact } from '../contacts/contacts.ts';
import { identifierForPlatform, normalizeIdentifier } from '../contacts/identifiers.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { WORK_CHANNEL } from '../db/notify-channels.ts';
import { errors } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { Outbox } from '../webhooks/emit.ts';
import { messageEvents } from './message-events.ts';
import type { CreateMessageRequest } from '../message-body/validate-message.ts';

// Turning a validated send request into a stored message: resolve who it goes to, then write it.
// The write is batched (db/group-commit.ts), so `writeMessages` takes many at once.

export const DEFAULT_VALIDITY_SECONDS = 129_600; // Bird: 36 hours

export interface Recipient {
  identifier: Identifier;
  type?: 'to' | 'cc' | 'bcc';
  platformAddress: string;
  platformAddressSelector?: string | null;
  countryCode?: string;
  /** Set when the request named the contact by id. */
  contactId?: string;
}

export interface PendingMessage {
  channel: Channel;
  request: CreateMessageRequest;
  recipients: Recipient[];
  batchId?: string;
  /** Set for entries of a batch that failed validation: stored as `rejected`. */
  rejection?: { code: number; description: string; details: string };
}

type RequestContact = NonNullable<CreateMessageRequest['receiver']['contacts']>[number];

/**
 * Works out each receiver's identifier for this channel's platform. Contacts named only by `id` are
 * looked up (and must exist in the workspace); everything else needs no database.
 */
export async function resolveRecipients(db: Db, channel: Channel, request: CreateMessageRequest): Promise<Recipient[]> {
  const defaultKey = PLATFORMS[channel.platform].identifierKey;
  const out: Recipient[] = [];
  const contacts = request.receiver.contacts ?? [];
  for (let i = 0; i < contacts.length; i++) {
    const c: RequestContact = contacts[i];
    let identifier: Identifier | undefined;
    if (c.identifierValue !== undefined) identifier = { key: c.identifierKey ?? defaultKey, value: c.identifierValue };
    else if (c.identifiers?.length) {
      const match = c.identifiers.find((x) => x.identifierKey === defaultKey) ?? c.identifiers[0];
      identifier = { key: match.identifierKey, value: match.identifierValue };
    } else if (c.id !== undefined) {
      identifier = await identifierOfContact(db, channel, c.id, `.receiver.contacts[${i}].id`);
    } else if (c.platformAddress !== undefined) {
      identifier = { key: defaultKey, value: c.platformAddress };
    } else {
      throw errors.invalidPayload({ [`.receiver.contacts[${i}]`]: ['needs an identifierValue, identifiers, id or platformAddress'] });
    }
    identifier = normalizeIdentifier(identifier);
    out.push({
      identifier,
      type: c.type,
      platformAddress: c.platformAddress ?? identifier.value,
      platformAddressSelector: c.platformAddressSelector,
      countryCode: identifier.key === 'phonenumber' ? countryOf(identifier.value) : undefined,
      contactId: c.id,
    });
  }
  return out;
}

// A number outside any allocated range (test and fictional numbers such as +44 7700 900xxx) still
// belongs to its calling code's main country, which is what a countryCode filter user expects.
const MAIN_COUNTRY = (metadata as { country_calling_codes: Record<string, string[]> }).country_calling_codes;

// Parsing a number costs more than the rest of a send's checks; the same receivers recur.
const countries = new Map<string, string | undefined>();

function countryOf(phone: string): string | undefined {
  if (countries.has(phone)) return countries.get(phone);
  let country: string | undefined;
  try {
    const parsed = parsePhoneNumber(phone);
    country = parsed?.country ?? (parsed ? MAIN_COUNTRY[parsed.countryCallingCode]?.[0] : undefined);
  } catch {
    country = undefined;
  }
  if (countries.size >= 100_000) countries.clear();
  countries.set(phone, country);
  return country;
}

/**
 * The identifier of a contact named by id that this channel can reach (contacts/identifiers.ts says
 * which keys fit which platform). A contact that does not exist, or has no such identifier, is a 422:
 * the send cannot go anywhere, and guessing another kind of address would be worse.
 */
async function identifierOfContact(db: Db, channel: Channel, contactId: string, at: string): Promise<Identifier> {
  const exists = /^[0-9a-f-]{36}$/i.test(contactId)
    ? await db.selectFrom('contacts').select('id').where('workspace_id', '=', channel.workspaceId).where('id', '=', contactId).executeTakeFirst()
    : undefined;
  if (!exists) throw errors.invalidPayload({ [at]: ['contact not found'] });
  const rows = await db
    .selectFrom('contact_identifiers')
    .select(['identifier_key', 'identifier_value'])
    .where('workspace_id', '=', channel.workspaceId)
    .where('contact_id', '=', contactId)
    .orderBy('created_at')
    .orderBy('identifier_key')
    .orderBy('identifier_value')
    .execute();
  const pick = identifierForPlatform(channel.platform, rows.map((r) => ({ key: r.identifier_key, value: r.identifier_value })));
  if (!pick) {
    const key = PLATFORMS[channel.platform].identifierKey;
    throw errors.invalidPayload({ [at]: [`contact has no "${key}" identifier to reach it on ${PLATFORMS[channel.platform].label} channels`] });
  }
  return pick;
}

/**
 * Writes accepted messages with as few round trips as their durability allows, each batch of them
 * (db/group-commit.ts) as a whole: one statement finds or creates their contacts and stores them
 * (storeMessages), and a transaction holds it together with their `accepted` webhooks only when a
 * subscription may want those. Without one, the statement commits on its own (202 means committed
 * just the same): no BEGIN and COMMIT round trips on every accept's path.
 */
export async function acceptMessages(db: Db, outbox: Outbox, pending: PendingMessage[], now: Date): Promise<MessageRow[]> {
  const rows = pending.map((p) => buildOutgoingRow(p, now));
  const events = messageEvents(rows);
  if (!(await outbox.mayEmit(db, events))) {
    await storeMessages(db, pending, rows);
    return rows;
  }
  return transaction(db, async (trx) => {
    await storeMessages(trx, pending, rows);
    await outbox.emit(trx, events);
    return rows;
  });
}

/** Writes many accepted messages in the caller's transaction; returns their stored rows in order. */
export async function writeMessages(trx: Db, outbox: Outbox, pending: PendingMessage[], now: Date): Promise<MessageRow[]> {
  const rows = pending.map((p) => buildOutgoingRow(p, now));
  await storeMessages(trx, pending, rows);
  // `<platform>.outbound` webhooks for `accepted` (or `rejected` batch entries), in the same transaction.
  await outbox.emit(trx, messageEvents(rows));
  return rows;
}

/**
 * Stores `rows` (built from `pending`, in order) with their receivers' contacts, found or created in
 * the same statement, and writes each contact's id into its row. Contacts are looked up every time,
 * not from a per-process cache: since the Contacts API can delete a contact or move an identifier,
 * any process's cached id could be stale.
 *
 * One statement, not a lookup and then the insert: on the accept path each round trip waits for a
 * backend to be scheduled, which under load costs more than the work (bench send-latency: 2-3 ms each
 * at 500 messages/s on two cores). A contact created by another transaction after this statement's
 * snapshot (a race for the same new number) cannot be seen by it: the statement then stores no
 * message, and the contacts are resolved again (contacts.ts, which re-reads such a winner) and the
 * messages stored by a second statement. Contacts this statement created stay either way: a retry
 * finds them.
 */
async function storeMessages(db: Db, pending: PendingMessage[], rows: MessageRow[]): Promise<void> {
  const wanted = new Map<string, WantedContact>();
  for (const p of pending) {
    for (const r of p.recipients) {
      if (!r.contactId) wanted.set(contactKey(p.channel.workspaceId, r.identifier.key, r.identifier.value), { workspaceId: p.channel.workspaceId, identifier: r.identifier });
    }
  }
  if (wanted.size === 0) return insertMessages(db, rows);
  const w = [...wanted.values()];
  const result = await sql<{ inserted: number; contacts: Array<[string, string, string, string]> }>`
    with ${resolvingContacts(w)},
    inserted as (
      insert into messages
      select p.* from json_populate_recordset(null::messages, ${JSON.stringify(rows)}::json) as m
      cross join lateral jsonb_populate_record(m, jsonb_build_object('receiver', m.receiver || jsonb_build_object('contacts', coalesce((
        select jsonb_agg(case when e ? 'id' then e else e || jsonb_build_object('id', rs.c) end order by eo)
        from jsonb_array_elements(m.receiver->'contacts') with ordinality as rc(e, eo)
        left join resolved rs on rs.w = m.workspace_id and rs.k = e->>'identifierKey' and rs.v = e->>'identifierValue'), '[]')))) p
      -- Every receiver resolved, or no message at all (see above).
      where (select count(*) from resolved) = ${w.length}
      returning workspace_id, id, status, created_at, reason, failure
    ),
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, created_at, reason, failure from inserted
    )
    select (select count(*) from inserted)::int as inserted,
      coalesce((select json_agg(json_build_array(w, k, v, c)) from resolved), '[]') as contacts,
      pg_notify(${WORK_CHANNEL}, '')`.execute(db);
  const { inserted, contacts } = result.rows[0];
  const ids = new Map(contacts.map(([ws, k, v, c]) => [contactKey(ws, k, v), c]));
  if (inserted !== rows.length) {
    for (const ws of new Set(w.map((x) => x.workspaceId))) {
      const mine = w.filter((x) => x.workspaceId === ws).map((x) => x.identifier);
      const again = await resolveContacts(db, ws, mine);
      for (const id of mine) ids.set(contactKey(ws, id.key, id.value), contactIdFor(again, ws, id)!);
    }
  }
  for (const row of rows) {
    for (const c of (row.receiver as { contacts: Array<{ id?: string; identifierKey: string; identifierValue: string }> }).contacts) {
      c.id ??= ids.get(contactKey(row.workspace_id, c.identifierKey, c.identifierValue));
    }
  }
  if (inserted !== rows.length) await insertMessages(db, rows);
}

const contactKey = (workspaceId: string, key: string, value: string) => `${workspaceId}\u0000${key}\u0000${value}`;

// One statement stores the messages and the first entry of their status history, and asks to wake the
// workers of other processes when this commits (this process is woken by its own signal): the NOTIFY
// rides along rather than costing a round trip of its own on every accept's path.
async function insertMessages(db: Db, rows: MessageRow[]): Promise<void> {
  await sql`
    with inserted as (
      insert into messages select * from json_populate_recordset(null::messages, ${JSON.stringify(rows)}::json)
      returning workspace_id, id, status, created_at, reason, failure
    ),
    history as (
      insert into message_status_history (workspace_id, message_id, status, at, reason, failure)
      select workspace_id, id, status, created_at, reason, failure from inserted
    )
    select pg_notify(${WORK_CHANNEL}, '')`.execute(db);
}

function buildOutgoingRow(p: PendingMessage, now: Date): MessageRow {
  const { channel, request: req } = p;
  const senderValue = req.sender?.connector.identifierValue ?? channel.senderIdentifier ?? '';
  const sender = {
    connector: {
      id: channel.connectorId,
      identifierValue: senderValue,
      ...(req.sender?.connector.annotations ? { annotations: req.sender.connector.annotations } : {}),
    },
  };
  const receiver = {
    contacts: p.recipients.map((r) => ({
      id: r.contactId!,
      identifierKey: r.identifier.key,
      identifierValue: r.identifier.value,
      ...(r.type ? { type: r.type } : {}),
      ...(r.countryCode ? { countryCode: r.countryCode } : {}),
      platformAddress: r.platformAddress,
      ...(r.platformAddressSelector ? { platformAddressSelector: r.platformAddressSelector } : {}),
    })),
  };
  const options = pickOptions(req);
  const rejection = p.rejection;
  return {
    workspace_id: channel.workspaceId,
    id: uuidv7(now.getTime()),
    channel_id: channel.id,
    platform: channel.platform,
    direction: 'outgoing',
    status: rejection ? 'rejected' : 'accepted',
    sender,
    receiver,
    body: req.body ?? null,
    template: req.template ?? null,
    meta: req.meta ?? null,
    reference: req.reference ?? null,
    reply_to: req.replyTo ?? null,
    tags: req.tags ?? [],
    short_links: req.shortLinks ?? null,
    scheduled_for: req.scheduledFor ? new Date(req.scheduledFor) : null,
    // Bird sets no upper bound; anything past int4 (68 years) means "forever" just as well.
    validity: Math.min(req.validity ?? DEFAULT_VALIDITY_SECONDS, 2_147_483_647),
    notification_url: req.notification?.url ?? null,
    options,
    batch_id: p.batchId ?? null,
    navigator_id: req.meta?.navigatorId ?? null,
    from_identifier: senderValue || null,
    to_identifiers: p.recipients.map((r) => r.identifier.value),
    country_codes: [...new Set(p.recipients.flatMap((r) => (r.countryCode ? [r.countryCode] : [])))],
    email_subject: emailSubject(req),
    reason: rejection ? rejection.details : null,
    details: rejection ? rejection.details : null,
    failure: rejection ? { code: rejection.code, description: rejection.description, source: { name: 'pre-processing' } } : null,
    failure_code: rejection?.code ?? null,
    failure_source_code: null,
    failure_source_name: rejection ? 'pre-processing' : null,
    parts: null,
    chargeable_units: null,
    origin: null,
    created_at: now,
    updated_at: now,
    last_status_at: now,
    // Due at once: the dispatcher decides whether it is scheduled, expired, suppressed or sendable.
    next_attempt_at: rejection ? null : now,
    attempts: 0,
    lease_owner: null,
    lease_expires_at: null,
    platform_reference: null,
    receiver_outcomes: null,
  };
}

function pickOptions(req: CreateMessageRequest): Record<string, boolean> | null {
  const out: Record<string, boolean> = {};
  for (const k of ['capFrequency', 'enableLinkTracking', 'ignoreQuietHours', 'ignoreGlobalHoldout'] as const) {
    if (req[k] !== undefined) out[k] = req[k]!;
  }
  return Object.keys(out).length ? out : null;
}

function emailSubject(req: CreateMessageRequest): string | null {
  const body = req.body as { text?: { metadata?: { subject?: string } }; html?: { metadata?: { subject?: string } } } | undefined;
  return body?.text?.metadata?.subject ?? body?.html?.metadata?.subject ?? req.meta?.email?.subject ?? null;
}

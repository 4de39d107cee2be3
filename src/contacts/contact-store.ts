import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/database.ts';
import { errors } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { Identifier } from './identifiers.ts';

// Contacts as the Contacts API sees them. Every statement names the workspace; contacts are paged by
// id (UUIDv7: creation order) on the primary key, so a page costs the same at any depth.

export interface IdentifierInput extends Identifier {
  properties?: Record<string, unknown> | null;
}

interface ContactDbRow {
  id: string;
  workspace_id: string;
  display_name: string | null;
  attributes: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  identifiers: Identifier[];
  list_ids: string[];
}

/** Bird shows at most this many identifiers inline; `identifierCount` and the identifiers endpoint give the rest. */
const FEATURED_IDENTIFIERS = 10;

/**
 * Bird's contact object. `attributes` holds what was set plus the keys Bird derives: `displayName`,
 * and one array per identifier key with its values (`emailaddress: ["a@b.c"]`). Derived keys win
 * over a stored attribute of the same name. `wanted` (GET `?attribute=`) are keys to show even when
 * unset, as `null`.
 */
export function contactJson(r: ContactDbRow, wanted: string[] = []) {
  const attributes: Record<string, unknown> = {};
  for (const k of wanted) attributes[k] = null;
  Object.assign(attributes, r.attributes ?? {});
  if (r.display_name !== null) attributes.displayName = r.display_name;
  const byKey: Record<string, string[]> = {};
  for (const id of r.identifiers) (byKey[id.key] ??= []).push(id.value);
  Object.assign(attributes, byKey);
  return {
    id: r.id,
    computedDisplayName: computedDisplayName(r),
    featuredIdentifiers: r.identifiers.slice(0, FEATURED_IDENTIFIERS).map((i) => ({ key: i.key, value: i.value })),
    identifierCount: r.identifiers.length,
    attributes,
    listIds: r.list_ids,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    workspaceId: r.workspace_id,
  };
}
export type ContactJson = ReturnType<typeof contactJson>;

/** The display name; failing that "firstName lastName"; failing that the first identifier's value. */
function computedDisplayName(r: ContactDbRow): string {
  if (r.display_name) return r.display_name;
  const a = r.attributes ?? {};
  const name = [a.firstName, a.lastName].filter((x) => typeof x === 'string' && x.trim() !== '').join(' ');
  return name || r.identifiers[0]?.value || '';
}

export interface ContactQuery {
  /** Extra tables joined to `contacts c` (e.g. a list's members). */
  from?: RawBuilder<unknown>;
  where: RawBuilder<unknown>[];
  /** The column whose order is the page order (`c.id`, or `m.contact_id` through a list). */
  orderBy?: RawBuilder<unknown>;
  reverse?: boolean;
  limit: number;
}

export async function selectContacts(db: Db, workspaceId: string, q: ContactQuery): Promise<ContactDbRow[]> {
  const order = q.orderBy ?? sql`c.id`;
  const r = await sql<ContactDbRow>`
    select c.id, c.workspace_id, c.display_name, c.attributes, c.created_at, c.updated_at,
      coalesce((select json_agg(json_build_object('key', ci.identifier_key, 'value', ci.identifier_value)
                  order by ci.created_at, ci.identifier_key, ci.identifier_value)
                from contact_identifiers ci where ci.workspace_id = ${workspaceId} and ci.contact_id = c.id), '[]') as identifiers,
      coalesce((select json_agg(m2.list_id order by m2.list_id)
                from list_members m2 where m2.workspace_id = ${workspaceId} and m2.contact_id = c.id), '[]') as list_ids
    from ${q.from ?? sql`contacts c`}
    where c.workspace_id = ${workspaceId} and ${sql.join(q.where, sql` and `)}
    order by ${order} ${q.reverse ? sql`desc` : sql`asc`}
    limit ${q.limit}`.execute(db);
  return r.rows.map((row) => ({ ...row, created_at: new Date(row.created_at), updated_at: new Date(row.updated_at) }));
}

export async function getContactRow(db: Db, workspaceId: string, id: string): Promise<ContactDbRow | undefined> {
  return (await selectContacts(db, workspaceId, { where: [sql`c.id = ${id}`], limit: 1 }))[0];
}

/** Locks the contact against deletion and concurrent edits for the rest of the transaction; false if it does not exist. */
export async function lockContact(trx: Db, workspaceId: string, id: string): Promise<boolean> {
  const r = await sql`select id from contacts where workspace_id = ${workspaceId} and id = ${id} for no key update`.execute(trx);
  return r.rows.length > 0;
}

export async function insertContact(trx: Db, workspaceId: string, input: { displayName?: string | null; attributes?: Record<string, unknown> | null }): Promise<string> {
  const id = uuidv7();
  await trx
    .insertInto('contacts')
    .values({ workspace_id: workspaceId, id, display_name: input.displayName ?? null, attributes: JSON.stringify(input.attributes ?? {}) })
    .execute();
  return id;
}

/** Merges attributes (a `null` value is kept as `null`; `attributes: null` clears them) and sets the display name. */
export async function updateContactFields(
  trx: Db,
  workspaceId: string,
  id: string,
  patch: { displayName?: string | null; attributes?: Record<string, unknown> | null },
): Promise<void> {
  if (patch.attributes === undefined && patch.displayName === undefined) return;
  const attributes =
    patch.attributes === undefined ? sql`attributes` : patch.attributes === null ? sql`'{}'::jsonb` : sql`attributes || ${JSON.stringify(patch.attributes)}::jsonb`;
  const name = patch.displayName === undefined ? sql`display_name` : sql`${patch.displayName}`;
  await sql`update contacts set attributes = ${attributes}, display_name = ${name}, updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}`.execute(trx);
}

/**
 * Gives identifiers to a contact. One that already belongs to it is left as it is; one that belongs
 * to another contact is a 409 ResourceAlreadyExists (and the caller's transaction is rolled back).
 * Race-free: the primary key decides, through ON CONFLICT, whichever process inserts first.
 */
export async function addIdentifiers(trx: Db, workspaceId: string, contactId: string, ids: IdentifierInput[]): Promise<void> {
  const unique = new Map(ids.map((i) => [`${i.key}\u0000${i.value}`, i]));
  if (unique.size === 0) return;
  const list = [...unique.values()];
  await sql`
    insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id, properties)
    select ${workspaceId}::uuid, k, v, ${contactId}::uuid, p::jsonb
    from unnest(${list.map((i) => i.key)}::text[], ${list.map((i) => i.value)}::text[], ${list.map((i) => (i.properties ? JSON.stringify(i.properties) : null))}::text[]) as t(k, v, p)
    on conflict do nothing`.execute(trx);
  const owners = await identifierOwners(trx, workspaceId, list);
  for (const i of list) {
    const owner = owners.get(`${i.key}\u0000${i.value}`);
    if (owner !== contactId) throw errors.resourceAlreadyExists(`identifier ${i.key} ${i.value} already belongs to another contact`);
  }
  await touch(trx, workspaceId, contactId);
}

/** Removes those of the identifiers that belong to the contact; returns how many did. */
export async function removeIdentifiers(trx: Db, workspaceId: string, contactId: string, ids: Identifier[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await sql`
    delete from contact_identifiers ci
    using unnest(${ids.map((i) => i.key)}::text[], ${ids.map((i) => i.value)}::text[]) as t(k, v)
    where ci.workspace_id = ${workspaceId} and ci.identifier_key = t.k and ci.identifier_value = t.v and ci.contact_id = ${contactId}
    returning ci.identifier_key`.execute(trx);
  if (r.rows.length) await touch(trx, workspaceId, contactId);
  return r.rows.length;
}

/** (key, value) -> contact id, for those of the identifiers that exist. */
export async function identifierOwners(db: Db, workspaceId: string, ids: Identifier[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const r = await sql<{ k: string; v: string; contact_id: string }>`
    select ci.identifier_key as k, ci.identifier_value as v, ci.contact_id
    from contact_identifiers ci
    join unnest(${ids.map((i) => i.key)}::text[], ${ids.map((i) => i.value)}::text[]) as t(k, v)
      on ci.identifier_key = t.k and ci.identifier_value = t.v
    where ci.workspace_id = ${workspaceId}`.execute(db);
  return new Map(r.rows.map((x) => [`${x.k}\u0000${x.v}`, x.contact_id]));
}

async function touch(trx: Db, workspaceId: string, contactId: string): Promise<void> {
  await sql`update contacts set updated_at = now() where workspace_id = ${workspaceId} and id = ${contactId}`.execute(trx);
}

/**
 * Deletes a contact with its identifiers, list memberships (keeping list counts right) and channel
 * facts. Messages are untouched: they hold their receiver as it was sent, with no reference that a
 * delete could break. The contact row goes first, so a concurrent add-to-list (which key-share locks
 * the contact) either finished before, and its membership is removed here, or finds no contact.
 */
export async function deleteContact(trx: Db, workspaceId: string, id: string): Promise<boolean> {
  const gone = await sql`delete from contacts where workspace_id = ${workspaceId} and id = ${id} returning id`.execute(trx);
  if (gone.rows.length === 0) return false;
  await sql`delete from contact_identifiers where workspace_id = ${workspaceId} and contact_id = ${id}`.execute(trx);
  await sql`delete from channel_contacts where workspace_id = ${workspaceId} and contact_id = ${id}`.execute(trx);
  await sql`
    with gone as (delete from list_members where workspace_id = ${workspaceId} and contact_id = ${id} returning list_id)
    update lists set contact_count = contact_count - 1, counter_updated_at = now()
    where workspace_id = ${workspaceId} and id in (select list_id from gone)`.execute(trx);
  return true;
}

export interface IdentifierRow {
  contactId: string;
  key: string;
  value: string;
  properties: Record<string, unknown> | null;
  createdAt: string;
}

/** A contact's identifiers in (key, value) order, from `after` on (exclusive). */
export async function listIdentifiers(
  db: Db,
  workspaceId: string,
  contactId: string,
  o: { limit: number; after?: Identifier; reverse?: boolean; exactly?: Identifier },
): Promise<IdentifierRow[]> {
  const cmp = o.reverse ? sql`<` : sql`>`;
  const dir = o.reverse ? sql`desc` : sql`asc`;
  const r = await sql<{ identifier_key: string; identifier_value: string; properties: Record<string, unknown> | null; created_at: Date }>`
    select identifier_key, identifier_value, properties, created_at from contact_identifiers
    where workspace_id = ${workspaceId} and contact_id = ${contactId}
      ${o.after ? sql`and (identifier_key, identifier_value) ${cmp} (${o.after.key}, ${o.after.value})` : sql``}
      ${o.exactly ? sql`and identifier_key = ${o.exactly.key} and identifier_value = ${o.exactly.value}` : sql``}
    order by identifier_key ${dir}, identifier_value ${dir}
    limit ${o.limit}`.execute(db);
  return r.rows.map((x) => ({
    contactId,
    key: x.identifier_key,
    value: x.identifier_value,
    properties: x.properties,
    createdAt: new Date(x.created_at).toISOString(),
  }));
}

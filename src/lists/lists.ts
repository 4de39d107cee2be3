import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';

// Contact lists (Bird's Contacts API, "manage contact lists"). Memberships are rows of list_members;
// each list keeps its contact count, changed in the same statement as the memberships, so showing a
// list never counts its members. Lock order, to keep concurrent requests from deadlocking: a contact
// (no key update, or key share) before lists, and lists in id order.

interface ListDbRow {
  id: string;
  name: string;
  description: string | null;
  consent_type: string | null;
  tags: string[];
  is_proof: boolean;
  contact_count: string | number;
  counter_updated_at: Date;
  created_at: Date;
  updated_at: Date;
}

export function listJson(r: ListDbRow) {
  const count = Number(r.contact_count);
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
    contactCount: count,
    consentType: r.consent_type,
    tags: r.tags,
    isProof: r.is_proof,
    counter: { count, updatedAt: new Date(r.counter_updated_at).toISOString() },
  };
}
export type ListJson = ReturnType<typeof listJson>;

export interface ListInput {
  name?: string;
  description?: string | null;
  consentType?: string | null;
  tags?: string[] | null;
  isProof?: boolean | null;
}

const COLUMNS = sql`id, name, description, consent_type, tags, is_proof, contact_count, counter_updated_at, created_at, updated_at`;

export async function createList(db: Db, workspaceId: string, input: ListInput & { name: string }): Promise<ListJson> {
  const r = await sql<ListDbRow>`
    insert into lists (workspace_id, id, name, description, consent_type, tags, is_proof)
    values (${workspaceId}, ${uuidv7()}, ${input.name}, ${input.description ?? null}, ${input.consentType ?? null}, ${input.tags ?? []}::text[], ${input.isProof ?? false})
    returning ${COLUMNS}`.execute(db);
  return listJson(r.rows[0]);
}

export async function getList(db: Db, workspaceId: string, id: string): Promise<ListJson | undefined> {
  const r = await sql<ListDbRow>`select ${COLUMNS} from lists where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0] && listJson(r.rows[0]);
}

/** Keyset pages by id (UUIDv7: creation order) on the primary key. */
export async function listLists(db: Db, workspaceId: string, o: { limit: number; afterId?: string; reverse?: boolean }): Promise<ListJson[]> {
  const r = await sql<ListDbRow>`
    select ${COLUMNS} from lists
    where workspace_id = ${workspaceId} ${o.afterId ? sql`and id ${o.reverse ? sql`<` : sql`>`} ${o.afterId}` : sql``}
    order by id ${o.reverse ? sql`desc` : sql`asc`}
    limit ${o.limit}`.execute(db);
  return r.rows.map(listJson);
}

export async function updateList(db: Db, workspaceId: string, id: string, p: ListInput): Promise<ListJson | undefined> {
  const set = (column: string, value: unknown, cast = sql``) => (value === undefined ? sql.ref(column) : sql`${value}${cast}`);
  const r = await sql<ListDbRow>`
    update lists set
      name = ${set('name', p.name)},
      description = ${set('description', p.description)},
      consent_type = ${set('consent_type', p.consentType)},
      tags = ${p.tags === undefined ? sql.ref('tags') : sql`${p.tags ?? []}::text[]`},
      is_proof = ${p.isProof === undefined ? sql.ref('is_proof') : sql`${p.isProof ?? false}`},
      updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}
    returning ${COLUMNS}`.execute(db);
  return r.rows[0] && listJson(r.rows[0]);
}

/** The list row goes first, so an add that holds the list's lock finishes before its members are removed. */
export async function deleteList(trx: Db, workspaceId: string, id: string): Promise<boolean> {
  const r = await sql`delete from lists where workspace_id = ${workspaceId} and id = ${id} returning id`.execute(trx);
  if (r.rows.length === 0) return false;
  await sql`delete from list_members where workspace_id = ${workspaceId} and list_id = ${id}`.execute(trx);
  return true;
}

/** Locks the lists (in id order) for the transaction; returns the ids that exist. */
export async function lockLists(trx: Db, workspaceId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await sql<{ id: string }>`
    select id from lists where workspace_id = ${workspaceId} and id = any(${[...new Set(ids)].sort()}::uuid[])
    order by id for no key update`.execute(trx);
  return new Set(r.rows.map((x) => x.id));
}

/**
 * Adds existing contacts to a locked list; returns the ids of those that exist (members already or now).
 * The contacts are key-share locked so that a concurrent delete waits for this to commit.
 */
export async function addMembers(trx: Db, workspaceId: string, listId: string, contactIds: string[]): Promise<Set<string>> {
  if (contactIds.length === 0) return new Set();
  const r = await sql<{ existing: string[] }>`
    with present as (
      select id from contacts where workspace_id = ${workspaceId} and id = any(${[...new Set(contactIds)].sort()}::uuid[])
      order by id for key share
    ), added as (
      insert into list_members (workspace_id, list_id, contact_id)
      select ${workspaceId}::uuid, ${listId}::uuid, id from present
      on conflict do nothing
      returning contact_id
    ), counted as (
      update lists set contact_count = contact_count + (select count(*) from added), counter_updated_at = now()
      where workspace_id = ${workspaceId} and id = ${listId} and exists (select 1 from added)
      returning id
    )
    select coalesce((select json_agg(id) from present), '[]') as existing`.execute(trx);
  return new Set(r.rows[0].existing);
}

/** Removes contacts from a locked list; returns how many of them were members. */
export async function removeMembers(trx: Db, workspaceId: string, listId: string, contactIds: string[]): Promise<number> {
  if (contactIds.length === 0) return 0;
  const r = await sql<{ removed: string }>`
    with gone as (
      delete from list_members where workspace_id = ${workspaceId} and list_id = ${listId} and contact_id = any(${[...new Set(contactIds)]}::uuid[])
      returning contact_id
    ), counted as (
      update lists set contact_count = contact_count - (select count(*) from gone), counter_updated_at = now()
      where workspace_id = ${workspaceId} and id = ${listId} and exists (select 1 from gone)
      returning id
    )
    select (select count(*) from gone) as removed`.execute(trx);
  return Number(r.rows[0].removed);
}

/** Puts a (locked) contact into (locked) lists. */
export async function joinLists(trx: Db, workspaceId: string, contactId: string, listIds: string[]): Promise<void> {
  if (listIds.length === 0) return;
  await sql`
    with added as (
      insert into list_members (workspace_id, list_id, contact_id)
      select ${workspaceId}::uuid, l, ${contactId}::uuid from unnest(${[...new Set(listIds)]}::uuid[]) as t(l)
      on conflict do nothing
      returning list_id
    )
    update lists set contact_count = contact_count + 1, counter_updated_at = now()
    where workspace_id = ${workspaceId} and id in (select list_id from added)`.execute(trx);
}

/** Takes a (locked) contact out of lists; with `exceptIds`, out of every list not named there. */
export async function leaveLists(trx: Db, workspaceId: string, contactId: string, o: { listIds?: string[]; exceptIds?: string[] }): Promise<void> {
  const which = o.listIds ? sql`list_id = any(${o.listIds}::uuid[])` : sql`not (list_id = any(${o.exceptIds ?? []}::uuid[]))`;
  await sql`
    with gone as (
      delete from list_members where workspace_id = ${workspaceId} and contact_id = ${contactId} and ${which}
      returning list_id
    )
    update lists set contact_count = contact_count - 1, counter_updated_at = now()
    where workspace_id = ${workspaceId} and id in (select list_id from gone)`.execute(trx);
}

/** The ids of a contact's lists, for the memberships endpoint, paged by list id. */
export async function listsOfContact(db: Db, workspaceId: string, contactId: string, o: { limit: number; afterId?: string; reverse?: boolean }): Promise<ListJson[]> {
  const r = await sql<ListDbRow>`
    select l.id, l.name, l.description, l.consent_type, l.tags, l.is_proof, l.contact_count, l.counter_updated_at, l.created_at, l.updated_at
    from list_members m join lists l on l.workspace_id = m.workspace_id and l.id = m.list_id
    where m.workspace_id = ${workspaceId} and m.contact_id = ${contactId}
      ${o.afterId ? sql`and m.list_id ${o.reverse ? sql`<` : sql`>`} ${o.afterId}` : sql``}
    order by m.list_id ${o.reverse ? sql`desc` : sql`asc`}
    limit ${o.limit}`.execute(db);
  return r.rows.map(listJson);
}

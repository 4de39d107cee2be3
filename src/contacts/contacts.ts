import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import type { Identifier } from './identifiers.ts';

export type { Identifier } from './identifiers.ts';

const cacheKey = (workspaceId: string, id: Identifier) => `${workspaceId}\u0000${id.key}\u0000${id.value}`;

/** An identifier to find or create a contact for, in its workspace. */
export interface WantedContact {
  workspaceId: string;
  identifier: Identifier;
}

/**
 * The common table expressions that find or create one contact per identifier, ending in
 * `resolved(w, k, v, c)`: workspace, identifier key and value, contact id. For a statement that goes
 * on to use them (accept-message.ts stores messages with them), or returns them (resolveContacts).
 * Identifiers are claimed with `on conflict do nothing`, so two processes racing to create the same
 * contact agree on one id; an identifier claimed by a transaction that committed after the
 * statement's snapshot is missing from `resolved`, and the caller must read it again. A contact is
 * created with its first identifier, so the statement stands on its own: it may commit by itself, and
 * a retry finds what it created.
 */
export function resolvingContacts(wanted: WantedContact[]) {
  // Every identifier comes with the id its contact gets if it is new; the ids of those found are unused.
  return sql`wanted(w, k, v, c) as (
      select * from unnest(${wanted.map((x) => x.workspaceId)}::uuid[], ${wanted.map((x) => x.identifier.key)}::text[],
        ${wanted.map((x) => x.identifier.value)}::text[], ${wanted.map(() => uuidv7())}::uuid[])
    ),
    found as (
      select wanted.w, wanted.k, wanted.v, ci.contact_id as c
      from wanted join contact_identifiers ci on ci.workspace_id = wanted.w and ci.identifier_key = wanted.k and ci.identifier_value = wanted.v
    ),
    claimed as (
      insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id)
      select w, k, v, c from wanted where not exists (select 1 from found f where f.w = wanted.w and f.k = wanted.k and f.v = wanted.v)
      on conflict do nothing
      returning workspace_id as w, identifier_key as k, identifier_value as v, contact_id as c
    ),
    created as (insert into contacts (workspace_id, id) select w, c from claimed),
    resolved as (select * from found union all select * from claimed)`;
}

/**
 * Finds or creates one contact per identifier, for many identifiers in one statement (see
 * resolvingContacts); a loser of a race re-reads the winner's row, in a second statement only then.
 */
export async function resolveContacts(db: Db, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const unique = new Map<string, Identifier>();
  for (const id of identifiers) unique.set(cacheKey(workspaceId, id), id);
  if (unique.size === 0) return result;
  const wanted = [...unique.values()];

  const rows = await sql<{ k: string; v: string; c: string }>`
    with ${resolvingContacts(wanted.map((identifier) => ({ workspaceId, identifier })))}
    select k, v, c from resolved`.execute(db);
  for (const r of rows.rows) result.set(cacheKey(workspaceId, { key: r.k, value: r.v }), r.c);

  // Claimed by a transaction that committed after this statement's snapshot was taken.
  const lost = wanted.filter((id) => !result.has(cacheKey(workspaceId, id)));
  if (lost.length > 0) {
    for (const r of await selectIdentifiers(db, workspaceId, lost)) {
      result.set(cacheKey(workspaceId, { key: r.identifier_key, value: r.identifier_value }), r.contact_id);
    }
  }
  return result;
}

export function contactIdFor(resolved: Map<string, string>, workspaceId: string, id: Identifier): string | undefined {
  return resolved.get(cacheKey(workspaceId, id));
}

async function selectIdentifiers(db: Db, workspaceId: string, ids: Identifier[]) {
  const r = await sql<{ identifier_key: string; identifier_value: string; contact_id: string }>`
    select ci.identifier_key, ci.identifier_value, ci.contact_id
    from contact_identifiers ci
    join unnest(${ids.map((i) => i.key)}::text[], ${ids.map((i) => i.value)}::text[]) as t(k, v)
      on ci.identifier_key = t.k and ci.identifier_value = t.v
    where ci.workspace_id = ${workspaceId}`.execute(db);
  return r.rows;
}

import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import type { Identifier } from './identifiers.ts';

export type { Identifier } from './identifiers.ts';

const cacheKey = (workspaceId: string, id: Identifier) => `${workspaceId}\u0000${id.key}\u0000${id.value}`;

/**
 * Finds or creates one contact per identifier, for many identifiers in one round trip or three.
 * Identifiers are claimed with `on conflict do nothing`, so two processes racing to create the same
 * contact agree on one id: the loser re-reads the winner's row.
 */
export async function resolveContacts(db: Db, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const unique = new Map<string, Identifier>();
  for (const id of identifiers) unique.set(cacheKey(workspaceId, id), id);
  if (unique.size === 0) return result;
  const wanted = [...unique.values()];

  const found = await selectIdentifiers(db, workspaceId, wanted);
  for (const r of found) result.set(cacheKey(workspaceId, { key: r.identifier_key, value: r.identifier_value }), r.contact_id);
  const missing = wanted.filter((id) => !result.has(cacheKey(workspaceId, id)));
  if (missing.length === 0) return result;

  const proposed = missing.map((id) => ({ ...id, contactId: uuidv7() }));
  const inserted = await sql<{ identifier_key: string; identifier_value: string; contact_id: string }>`
    insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id)
    select ${workspaceId}::uuid, k, v, c
    from unnest(${proposed.map((p) => p.key)}::text[], ${proposed.map((p) => p.value)}::text[], ${proposed.map((p) => p.contactId)}::uuid[]) as t(k, v, c)
    on conflict do nothing
    returning identifier_key, identifier_value, contact_id`.execute(db);
  if (inserted.rows.length > 0) {
    await sql`
      insert into contacts (workspace_id, id)
      select ${workspaceId}::uuid, c from unnest(${inserted.rows.map((r) => r.contact_id)}::uuid[]) as t(c)`.execute(db);
  }
  for (const r of inserted.rows) result.set(cacheKey(workspaceId, { key: r.identifier_key, value: r.identifier_value }), r.contact_id);

  const lost = missing.filter((id) => !result.has(cacheKey(workspaceId, id)));
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

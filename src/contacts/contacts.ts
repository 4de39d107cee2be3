import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';
import type { Identifier } from './identifiers.ts';

export type { Identifier } from './identifiers.ts';

const cacheKey = (workspaceId: string, id: Identifier) => `${workspaceId}\u0000${id.key}\u0000${id.value}`;

/**
 * Finds or creates one contact per identifier, for many identifiers in one statement. Identifiers are
 * claimed with `on conflict do nothing`, so two processes racing to create the same contact agree on
 * one id: the loser re-reads the winner's row (a second statement, only then).
 *
 * Finding and creating are one statement rather than a read and then two inserts: on the accept path
 * every round trip waits for a backend to be scheduled, which under load costs more than the work (bench
 * send-latency: 1-3 ms each at 500 messages/s on two cores). A contact is created with its first
 * identifier, so the statement stands on its own: it may commit by itself, ahead of the messages that
 * name the contact (accept-message.ts), and a retry finds what it created.
 */
export async function resolveContacts(db: Db, workspaceId: string, identifiers: Identifier[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const unique = new Map<string, Identifier>();
  for (const id of identifiers) unique.set(cacheKey(workspaceId, id), id);
  if (unique.size === 0) return result;
  const wanted = [...unique.values()];

  // Every identifier comes with the id its contact gets if it is new; the ids of those found are unused.
  const rows = await sql<{ identifier_key: string; identifier_value: string; contact_id: string }>`
    with wanted(k, v, c) as (
      select * from unnest(${wanted.map((w) => w.key)}::text[], ${wanted.map((w) => w.value)}::text[], ${wanted.map(() => uuidv7())}::uuid[])
    ),
    found as (
      select ci.identifier_key, ci.identifier_value, ci.contact_id
      from contact_identifiers ci join wanted on ci.identifier_key = wanted.k and ci.identifier_value = wanted.v
      where ci.workspace_id = ${workspaceId}
    ),
    claimed as (
      insert into contact_identifiers (workspace_id, identifier_key, identifier_value, contact_id)
      select ${workspaceId}::uuid, k, v, c from wanted
      where not exists (select 1 from found f where f.identifier_key = wanted.k and f.identifier_value = wanted.v)
      on conflict do nothing
      returning identifier_key, identifier_value, contact_id
    ),
    created as (
      insert into contacts (workspace_id, id) select ${workspaceId}::uuid, contact_id from claimed
    )
    select * from found union all select * from claimed`.execute(db);
  for (const r of rows.rows) result.set(cacheKey(workspaceId, { key: r.identifier_key, value: r.identifier_value }), r.contact_id);

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

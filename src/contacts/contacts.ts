import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';

export interface Identifier {
  key: string;
  value: string;
}

const cacheKey = (workspaceId: string, id: Identifier) => `${workspaceId}\u0000${id.key}\u0000${id.value}`;

/**
 * Remembers identifier -> contact id after commit. Contacts are never re-pointed to another id, so an
 * entry cannot go stale; the cache only saves the lookup on the send hot path. Bounded by clearing
 * when full, which is crude but cannot grow without limit.
 */
export class ContactCache {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 100_000) {}
  get(workspaceId: string, id: Identifier): string | undefined {
    return this.map.get(cacheKey(workspaceId, id));
  }
  set(workspaceId: string, id: Identifier, contactId: string): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(cacheKey(workspaceId, id), contactId);
  }
  clear(): void {
    this.map.clear();
  }
}

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

export interface ContactJson {
  id: string;
  displayName: string | null;
  identifiers: { key: string; value: string }[];
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export async function getContact(db: Db, workspaceId: string, id: string): Promise<ContactJson | undefined> {
  const rows = await listContactsWhere(db, workspaceId, { ids: [id], limit: 1 });
  return rows[0];
}

export async function listContactsWhere(
  db: Db,
  workspaceId: string,
  // Contact ids are UUIDv7, so ordering by id is creation order and the id alone is the page position.
  opts: { ids?: string[]; identifierValue?: string; limit: number; afterId?: string; order?: 'asc' | 'desc' },
): Promise<ContactJson[]> {
  let q = db
    .selectFrom('contacts as c')
    .select([
      'c.id',
      'c.display_name',
      'c.attributes',
      'c.created_at',
      'c.updated_at',
      sql<{ key: string; value: string }[]>`coalesce((
        select json_agg(json_build_object('key', ci.identifier_key, 'value', ci.identifier_value) order by ci.created_at, ci.identifier_key)
        from contact_identifiers ci where ci.workspace_id = c.workspace_id and ci.contact_id = c.id), '[]')`.as('identifiers'),
    ])
    .where('c.workspace_id', '=', workspaceId)
    .orderBy('c.id', opts.order ?? 'asc')
    .limit(opts.limit);
  if (opts.ids) q = q.where('c.id', 'in', opts.ids);
  if (opts.identifierValue !== undefined) {
    const v = opts.identifierValue;
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('contact_identifiers as ci')
          .select('ci.contact_id')
          .whereRef('ci.contact_id', '=', 'c.id')
          .where('ci.workspace_id', '=', workspaceId)
          .where('ci.identifier_value', '=', v),
      ),
    );
  }
  if (opts.afterId) q = q.where('c.id', opts.order === 'desc' ? '<' : '>', opts.afterId);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id,
    displayName: r.display_name,
    identifiers: r.identifiers,
    attributes: (r.attributes ?? {}) as Record<string, unknown>,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }));
}

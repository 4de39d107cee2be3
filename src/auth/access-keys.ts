import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';

// Keys are shown once, at creation, and stored only as SHA-256. A key is either organization-wide
// (every workspace of its organization) or bound to one workspace.

export interface AccessKeyInfo {
  id: string;
  organizationId: string;
  workspaceId: string | null;
  name: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createAccessKey(
  db: Db,
  input: { organizationId: string; workspaceId?: string | null; name: string },
): Promise<{ key: string; info: AccessKeyInfo }> {
  // 32 random bytes, base64url: 43 characters of [A-Za-z0-9_-], plus a readable prefix.
  const key = `avk_${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('access_keys')
    .values({
      id: uuidv7(),
      organization_id: input.organizationId,
      workspace_id: input.workspaceId ?? null,
      name: input.name,
      prefix: key.slice(0, 10),
      key_hash: hashKey(key),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { key, info: toInfo(row) };
}

export async function listAccessKeys(db: Db, organizationId?: string): Promise<AccessKeyInfo[]> {
  let q = db.selectFrom('access_keys').selectAll().orderBy('created_at');
  if (organizationId) q = q.where('organization_id', '=', organizationId);
  return (await q.execute()).map(toInfo);
}

/** Revokes by id or by the full key. Returns false when nothing active matched. */
export async function revokeAccessKey(db: Db, idOrKey: string): Promise<boolean> {
  const column = idOrKey.startsWith('avk_') ? 'key_hash' : 'id';
  const value = column === 'key_hash' ? hashKey(idOrKey) : idOrKey;
  const result = await db
    .updateTable('access_keys')
    .set({ revoked_at: new Date() })
    .where(column, '=', value)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function findActiveKey(db: Db, key: string): Promise<AccessKeyInfo | undefined> {
  const row = await db
    .selectFrom('access_keys')
    .selectAll()
    .where('key_hash', '=', hashKey(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row && toInfo(row);
}

function toInfo(row: {
  id: string;
  organization_id: string;
  workspace_id: string | null;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}): AccessKeyInfo {
  return {
    id: row.id,
    organizationId: row.organization_id,
    workspaceId: row.workspace_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

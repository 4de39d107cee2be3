import type { Db } from '../db/database.ts';
import { uuidv7 } from '../ids.ts';

export interface Workspace {
  id: string;
  organizationId: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export async function createOrganization(db: Db, name: string): Promise<{ id: string; name: string }> {
  const id = uuidv7();
  await db.insertInto('organizations').values({ id, name }).execute();
  return { id, name };
}

export async function firstOrganization(db: Db): Promise<{ id: string; name: string } | undefined> {
  return db.selectFrom('organizations').select(['id', 'name']).orderBy('created_at').limit(1).executeTakeFirst();
}

export async function createWorkspace(db: Db, organizationId: string, name: string): Promise<Workspace> {
  const row = await db
    .insertInto('workspaces')
    .values({ id: uuidv7(), organization_id: organizationId, name })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toWorkspace(row);
}

export async function getWorkspace(db: Db, id: string): Promise<Workspace | undefined> {
  const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toWorkspace(row);
}

export async function listWorkspaces(db: Db, organizationId?: string): Promise<Workspace[]> {
  let q = db.selectFrom('workspaces').selectAll().orderBy('created_at');
  if (organizationId) q = q.where('organization_id', '=', organizationId);
  return (await q.execute()).map(toWorkspace);
}

function toWorkspace(row: { id: string; organization_id: string; name: string; created_at: Date; updated_at: Date }): Workspace {
  return { id: row.id, organizationId: row.organization_id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at };
}

import { sql, type SqlBool } from 'kysely';
import type { Db } from '../db/database.ts';
import type { WorkspacesTable } from '../db/schema.ts';
import { afterPosition, keysetPage, pageOrder, type Position } from '../db/keyset-page.ts';
import { isUuid, uuidv7 } from '../ids.ts';
import type { Selectable } from 'kysely';

export interface Workspace {
  id: string;
  organizationId: string;
  name: string;
  description: string | null;
  status: 'active' | 'inactive';
  /** Bird's `dataPolicy` and `configuration`: stored and returned as given, not acted on. */
  dataPolicy: Record<string, unknown> | null;
  configuration: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WorkspaceFields {
  description?: string | null;
  dataPolicy?: Record<string, unknown> | null;
  configuration?: Record<string, unknown> | null;
}

export async function createOrganization(db: Db, name: string): Promise<{ id: string; name: string }> {
  const id = uuidv7();
  await db.insertInto('organizations').values({ id, name }).execute();
  return { id, name };
}

export async function firstOrganization(db: Db): Promise<{ id: string; name: string } | undefined> {
  return db.selectFrom('organizations').select(['id', 'name']).orderBy('created_at').limit(1).executeTakeFirst();
}

const jsonOrNull = (v: Record<string, unknown> | null | undefined) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v));

export async function createWorkspace(db: Db, organizationId: string, name: string, fields: WorkspaceFields = {}): Promise<Workspace> {
  // Millisecond times, as page tokens carry them (0008_workspaces_and_sms_receivers.sql).
  const now = new Date();
  const row = await db
    .insertInto('workspaces')
    .values({
      id: uuidv7(),
      created_at: now,
      updated_at: now,
      organization_id: organizationId,
      name,
      description: fields.description ?? null,
      data_policy: jsonOrNull(fields.dataPolicy),
      configuration: jsonOrNull(fields.configuration),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toWorkspace(row);
}

export async function getWorkspace(db: Db, id: string): Promise<Workspace | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toWorkspace(row);
}

/** Changes the given fields only (undefined: unchanged, null: cleared). Undefined when it does not exist in the organization. */
export async function updateWorkspace(
  db: Db,
  organizationId: string,
  id: string,
  patch: WorkspaceFields & { name?: string },
): Promise<Workspace | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db
    .updateTable('workspaces')
    .set({
      name: patch.name,
      description: patch.description,
      data_policy: jsonOrNull(patch.dataPolicy),
      configuration: jsonOrNull(patch.configuration),
      updated_at: new Date(),
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toWorkspace(row);
}

/** Every workspace (the operator's CLI view), oldest first. */
export async function listWorkspaces(db: Db, organizationId?: string): Promise<Workspace[]> {
  let q = db.selectFrom('workspaces').selectAll().orderBy('created_at').orderBy('id');
  if (organizationId) q = q.where('organization_id', '=', organizationId);
  return (await q.execute()).map(toWorkspace);
}

export interface WorkspacePageRequest {
  limit: number;
  reverse: boolean;
  after?: Position;
  /** Only this workspace (a key limited to one workspace sees only its own). */
  onlyId?: string;
}

/** One page of an organization's workspaces: oldest first (the starter workspace leads), newest first with `reverse`. */
export async function pageWorkspaces(
  db: Db,
  organizationId: string,
  page: WorkspacePageRequest,
): Promise<{ workspaces: Workspace[]; nextPageToken: string | null }> {
  const dir = pageOrder(page, 'asc');
  let q = db.selectFrom('workspaces').selectAll().where('organization_id', '=', organizationId);
  if (page.onlyId) q = q.where('id', '=', page.onlyId);
  if (page.after) q = q.where(afterPosition(page.after, dir));
  const rows = await q.orderBy('created_at', dir).orderBy('id', dir).limit(page.limit + 1).execute();
  const { rows: pageRows, nextPageToken } = keysetPage(rows, page.limit);
  return { workspaces: pageRows.map(toWorkspace), nextPageToken };
}

/** Bird's Workspace object. Optional members Aviary has no value for are left out rather than sent as null. */
export function workspaceJson(w: Workspace) {
  return {
    id: w.id,
    organizationId: w.organizationId,
    status: w.status,
    // Aviary never bans or suspends a workspace, so no transition has ever happened.
    statusTransitions: [] as unknown[],
    name: w.name,
    ...(w.description !== null ? { description: w.description } : {}),
    ...(w.dataPolicy !== null ? { dataPolicy: w.dataPolicy } : {}),
    ...(w.configuration !== null ? { configuration: w.configuration } : {}),
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

function parseJson(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
}

function toWorkspace(row: Selectable<WorkspacesTable>): Workspace {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    description: row.description,
    status: row.status,
    dataPolicy: parseJson(row.data_policy),
    configuration: parseJson(row.configuration),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// Storage of template projects and their versions (tables in migrations/0003_templates.sql). Every
// query names the workspace; state changes of a version run in a transaction holding its project's
// row lock, so concurrent activations and approvals of one project apply one after the other and the
// "one active version per project" rule (also a partial unique index) always holds.

import { sql, type Selectable, type SqlBool, type Transaction } from 'kysely';
import type { Platform } from '../channels/platforms.ts';
import type { Db } from '../db/database.ts';
import type { DB, TemplateProjectsTable, TemplateVersionsTable } from '../db/schema.ts';
import { errors } from '../errors.ts';
import { afterPosition, pageOrder, type PageRequest, type Position } from '../db/keyset-page.ts';
import { isUuid, uuidv7 } from '../ids.ts';
import type { ContentEntry, Deployment, VariableDefinition, VersionContent } from './content.ts';

type Trx = Transaction<DB>;

export type VersionStatus = 'draft' | 'pending' | 'active' | 'inactive' | 'rejected';
export const VERSION_STATUSES: VersionStatus[] = ['draft', 'pending', 'active', 'inactive', 'rejected'];
export type ApprovalStatus = 'pending' | 'approved' | 'rejected';

export interface Approval {
  platform: Platform;
  status: ApprovalStatus;
  reason: string | null;
  updatedAt: string;
}

export interface Project {
  workspaceId: string;
  id: string;
  name: string;
  description: string | null;
  type: string;
  versionCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface Version {
  workspaceId: string;
  id: string;
  projectId: string;
  number: number;
  status: VersionStatus;
  description: string | null;
  defaultLocale: string;
  supportedPlatforms: string[];
  locales: string[];
  variables: VariableDefinition[];
  genericContent: ContentEntry[];
  platformContent: ContentEntry[];
  deployments: Deployment[];
  approvals: Approval[];
  activatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProjectStats {
  counts: Record<VersionStatus, number>;
  active?: { id: string; locales: string[]; supportedPlatforms: string[] };
}

export interface Page<T> {
  items: T[];
  next?: Position;
}

// ---- projects ----

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

export async function createProject(db: Db, workspaceId: string, input: { name: string; type: string; description?: string | null }): Promise<Project> {
  const now = new Date();
  try {
    const row = await db
      .insertInto('template_projects')
      .values({
        workspace_id: workspaceId,
        id: uuidv7(),
        name: input.name,
        type: input.type,
        description: input.description ?? null,
        // Milliseconds, as page tokens carry it (see channels.ts createChannel).
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toProject(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.conflict(`A project named "${input.name}" already exists in this workspace`);
    throw err;
  }
}

export async function getProject(db: Db, workspaceId: string, id: string): Promise<Project | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db
    .selectFrom('template_projects')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toProject(row);
}

export async function getProjectByName(db: Db, workspaceId: string, name: string): Promise<Project | undefined> {
  const row = await db
    .selectFrom('template_projects')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
  return row && toProject(row);
}

export async function listProjects(db: Db, workspaceId: string, page: PageRequest): Promise<Page<Project>> {
  const dir = pageOrder(page);
  let q = db.selectFrom('template_projects').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) q = q.where(afterPosition(page.after, dir));
  const rows = await q.orderBy('created_at', dir).orderBy('id', dir).limit(page.limit + 1).execute();
  return paginate(rows.map(toProject), page.limit);
}

export async function updateProject(
  db: Db,
  workspaceId: string,
  id: string,
  patch: { name?: string; description?: string | null },
): Promise<Project | undefined> {
  if (!isUuid(id)) return undefined;
  const set: { updated_at: Date; name?: string; description?: string | null } = { updated_at: new Date() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  try {
    const row = await db
      .updateTable('template_projects')
      .set(set)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toProject(row);
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.conflict(`A project named "${patch.name}" already exists in this workspace`);
    throw err;
  }
}

/** Deletes the project and, by cascade, its versions. */
export async function deleteProject(db: Db, workspaceId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const result = await db
    .deleteFrom('template_projects')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Version counts per status and the active version, for the projects given (two queries in all). */
export async function projectStats(db: Db, workspaceId: string, projectIds: string[]): Promise<Map<string, ProjectStats>> {
  const stats = new Map<string, ProjectStats>();
  if (projectIds.length === 0) return stats;
  for (const id of projectIds) stats.set(id, { counts: { draft: 0, pending: 0, active: 0, inactive: 0, rejected: 0 } });
  const counts = await db
    .selectFrom('template_versions')
    .select(['project_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('workspace_id', '=', workspaceId)
    .where('project_id', 'in', projectIds)
    .groupBy(['project_id', 'status'])
    .execute();
  for (const c of counts) {
    const s = stats.get(c.project_id)!;
    s.counts[c.status as VersionStatus] = Number(c.n);
  }
  const active = await db
    .selectFrom('template_versions')
    .select(['project_id', 'id', 'locales', 'supported_platforms'])
    .where('workspace_id', '=', workspaceId)
    .where('project_id', 'in', projectIds)
    .where('status', '=', 'active')
    .execute();
  for (const a of active) stats.get(a.project_id)!.active = { id: a.id, locales: a.locales, supportedPlatforms: a.supported_platforms };
  return stats;
}

// ---- versions ----

export async function getVersion(db: Db, workspaceId: string, projectId: string, id: string): Promise<Version | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toVersion(row);
}

export async function getVersionByNumber(db: Db, workspaceId: string, projectId: string, number: number): Promise<Version | undefined> {
  const row = await db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('project_id', '=', projectId)
    .where('number', '=', number)
    .executeTakeFirst();
  return row && toVersion(row);
}

/** The project's active version: what `version: "latest"` means. */
export async function getActiveVersion(db: Db, workspaceId: string, projectId: string): Promise<Version | undefined> {
  const row = await db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('project_id', '=', projectId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return row && toVersion(row);
}

export async function listVersions(
  db: Db,
  workspaceId: string,
  projectId: string,
  page: PageRequest & { status?: VersionStatus[] },
): Promise<Page<Version>> {
  const dir = pageOrder(page);
  let q = db
    .selectFrom('template_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('project_id', '=', projectId);
  if (page.status) q = q.where('status', 'in', page.status);
  if (page.after) q = q.where(afterPosition(page.after, dir));
  const rows = await q.orderBy('created_at', dir).orderBy('id', dir).limit(page.limit + 1).execute();
  return paginate(rows.map(toVersion), page.limit);
}

/**
 * Adds a version (the next number) to a project; undefined when the project does not exist. With
 * `autoApprove` it is activated at once and every review it needs counts as passed.
 */
export async function createVersion(
  db: Db,
  workspaceId: string,
  projectId: string,
  content: VersionContent,
  autoApprove: boolean,
): Promise<Version | undefined> {
  return db
    .transaction()
    .execute(async (trx) => {
      const project = await trx
        .updateTable('template_projects')
        .set((eb) => ({ version_count: eb('version_count', '+', 1), updated_at: new Date() }))
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', projectId)
        .returning(['version_count'])
        .executeTakeFirst();
      if (!project) return undefined;
      const now = new Date();
      const row = await trx
        .insertInto('template_versions')
        .values({
          workspace_id: workspaceId,
          id: uuidv7(),
          project_id: projectId,
          number: project.version_count,
          status: 'draft',
          description: content.description,
          default_locale: content.defaultLocale,
          supported_platforms: content.supportedPlatforms,
          locales: content.locales,
          variables: JSON.stringify(content.variables),
          generic_content: JSON.stringify(content.genericContent),
          platform_content: JSON.stringify(content.platformContent),
          deployments: JSON.stringify(content.deployments),
          approvals: JSON.stringify(
            autoApprove ? content.reviewPlatforms.map((platform) => approval(platform, 'approved', null, now)) : [],
          ),
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const version = toVersion(row);
      return autoApprove ? makeActive(trx, version) : version;
    });
}

export async function deleteVersion(db: Db, workspaceId: string, projectId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const result = await db
    .deleteFrom('template_versions')
    .where('workspace_id', '=', workspaceId)
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The platforms whose review a version needs before it is usable there. */
export function reviewPlatformsOf(v: Pick<Version, 'supportedPlatforms' | 'platformContent'>): Platform[] {
  return v.supportedPlatforms.includes('whatsapp') || v.platformContent.some((e) => e.platform === 'whatsapp') ? ['whatsapp'] : [];
}

/**
 * Bird's activate: a draft that needs a review (WhatsApp) is submitted and becomes `pending`; any
 * other draft, or an inactive version (a rollback), becomes the project's active version.
 */
export async function activateVersion(db: Db, workspaceId: string, projectId: string, id: string): Promise<Version | undefined> {
  return underProjectLock(db, workspaceId, projectId, id, async (trx, v) => {
    switch (v.status) {
      case 'pending':
      case 'active':
        return v;
      case 'rejected':
        throw errors.conflict(`Version ${v.number} was rejected; create a new version instead`);
      case 'inactive':
        return makeActive(trx, v);
      case 'draft': {
        const review = reviewPlatformsOf(v);
        if (review.length === 0) return makeActive(trx, v);
        const now = new Date();
        return save(trx, v, {
          status: 'pending',
          approvals: review.map((platform) => approval(platform, 'pending', null, now)),
          activated_at: now,
        });
      }
    }
  });
}

/** The emulator's stand-in for Meta approving a submitted version: it becomes the active one. */
export async function approveVersion(db: Db, workspaceId: string, projectId: string, id: string, platform: Platform): Promise<Version | undefined> {
  return underProjectLock(db, workspaceId, projectId, id, async (trx, v) => {
    const entry = v.approvals.find((a) => a.platform === platform);
    if (!entry) {
      throw errors.conflict(
        v.status === 'draft'
          ? `Version ${v.number} is a draft; activate it to submit it for ${platform} review`
          : `Version ${v.number} has no ${platform} review: its content does not target ${platform}`,
      );
    }
    if (entry.status === 'approved') return v;
    const approvals = v.approvals.map((a) => (a.platform === platform ? approval(platform, 'approved', null, new Date()) : a));
    const updated = await save(trx, v, { approvals });
    return approvals.every((a) => a.status === 'approved') ? makeActive(trx, updated) : updated;
  });
}

/** The emulator's stand-in for Meta rejecting (or later disabling) a version. */
export async function rejectVersion(
  db: Db,
  workspaceId: string,
  projectId: string,
  id: string,
  platform: Platform,
  reason: string | null,
): Promise<Version | undefined> {
  return underProjectLock(db, workspaceId, projectId, id, async (trx, v) => {
    const entry = v.approvals.find((a) => a.platform === platform);
    if (!entry) {
      throw errors.conflict(
        v.status === 'draft'
          ? `Version ${v.number} is a draft; activate it to submit it for ${platform} review`
          : `Version ${v.number} has no ${platform} review: its content does not target ${platform}`,
      );
    }
    const approvals = v.approvals.map((a) => (a.platform === platform ? approval(platform, 'rejected', reason, new Date()) : a));
    return save(trx, v, { status: 'rejected', approvals });
  });
}

// ---- helpers ----

async function underProjectLock(
  db: Db,
  workspaceId: string,
  projectId: string,
  id: string,
  fn: (trx: Trx, v: Version) => Promise<Version>,
): Promise<Version | undefined> {
  if (!isUuid(id)) return undefined;
  return db
    .transaction()
    .execute(async (trx) => {
      const locked = await trx
        .selectFrom('template_projects')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', projectId)
        .forUpdate()
        .executeTakeFirst();
      if (!locked) return undefined;
      const row = await trx
        .selectFrom('template_versions')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('project_id', '=', projectId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      return fn(trx, toVersion(row));
    });
}

/** Makes `v` the project's one active version; the one active before it becomes inactive. */
async function makeActive(trx: Trx, v: Version): Promise<Version> {
  const now = new Date();
  await trx
    .updateTable('template_versions')
    .set({ status: 'inactive', updated_at: now })
    .where('workspace_id', '=', v.workspaceId)
    .where('project_id', '=', v.projectId)
    .where('status', '=', 'active')
    .where('id', '!=', v.id)
    .execute();
  return save(trx, v, { status: 'active', activated_at: v.activatedAt ?? now });
}

async function save(
  trx: Trx,
  v: Version,
  change: { status?: VersionStatus; approvals?: Approval[]; activated_at?: Date | null },
): Promise<Version> {
  const row = await trx
    .updateTable('template_versions')
    .set({
      updated_at: new Date(),
      ...(change.status ? { status: change.status } : {}),
      ...(change.approvals ? { approvals: JSON.stringify(change.approvals) } : {}),
      ...(change.activated_at !== undefined ? { activated_at: change.activated_at } : {}),
    })
    .where('workspace_id', '=', v.workspaceId)
    .where('id', '=', v.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toVersion(row);
}

function approval(platform: Platform, status: ApprovalStatus, reason: string | null, at: Date): Approval {
  return { platform, status, reason, updatedAt: at.toISOString() };
}

function paginate<T extends { id: string; createdAt: Date }>(items: T[], limit: number): Page<T> {
  const more = items.length > limit;
  if (more) items.pop();
  const last = items[items.length - 1];
  return { items, next: more && last ? { createdAt: last.createdAt, id: last.id } : undefined };
}

function toProject(row: Selectable<TemplateProjectsTable>): Project {
  return {
    workspaceId: row.workspace_id,
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    versionCount: row.version_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toVersion(row: Selectable<TemplateVersionsTable>): Version {
  return {
    workspaceId: row.workspace_id,
    id: row.id,
    projectId: row.project_id,
    number: row.number,
    status: row.status as VersionStatus,
    description: row.description,
    defaultLocale: row.default_locale,
    supportedPlatforms: row.supported_platforms,
    locales: row.locales,
    variables: (row.variables ?? []) as VariableDefinition[],
    genericContent: (row.generic_content ?? []) as ContentEntry[],
    platformContent: (row.platform_content ?? []) as ContentEntry[],
    deployments: (row.deployments ?? []) as Deployment[],
    approvals: (row.approvals ?? []) as Approval[],
    activatedAt: row.activated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

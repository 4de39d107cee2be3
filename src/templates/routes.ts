import { singleParam, type Query } from '../http/query.ts';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { encodePageToken, type PageRequest, type Position } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import { bodyValidator } from '../http/validate.ts';
import { compileVersion, validateCreateVersion } from './content.ts';
import {
  activateVersion,
  approveVersion,
  createProject,
  createVersion,
  deleteProject,
  deleteVersion,
  getActiveVersion,
  getProject,
  getVersion,
  getVersionByNumber,
  listProjects,
  listVersions,
  projectStats,
  rejectVersion,
  updateProject,
  VERSION_STATUSES,
  type Project,
  type ProjectStats,
  type Version,
  type VersionStatus,
} from './store.ts';

// Bird's Touchpoints API for message templates, relative to /workspaces/{workspaceId}:
//   /projects                                   POST, GET
//   /projects/{projectId}                       GET, PATCH, DELETE
//   /projects/{projectId}/channel-templates     POST (a new version), GET
//   /projects/{projectId}/channel-templates/{versionId | "latest" | number}          GET, DELETE
//   /projects/{projectId}/channel-templates/{versionId}/activate                     POST (Bird)
//   /projects/{projectId}/channel-templates/{versionId}/approve | reject              POST (emulator)
// See docs/templates.md.

const PROJECT_TYPES = ['channelTemplate'];

interface ProjectBody {
  name?: string;
  type?: string;
  description?: string | null;
}

export const createProjectSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'type'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    type: { type: 'string', enum: PROJECT_TYPES },
    description: { type: ['string', 'null'], maxLength: 1000 },
  },
};
const validateCreateProject = bodyValidator<ProjectBody>(createProjectSchema);

export const patchProjectSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    description: { type: ['string', 'null'], maxLength: 1000 },
  },
};
const validatePatchProject = bodyValidator<ProjectBody>(patchProjectSchema);

interface ReviewBody {
  platform?: 'whatsapp';
  reason?: string;
}

export const approveSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { platform: { type: 'string', enum: ['whatsapp'] } },
};
const validateApprove = bodyValidator<ReviewBody>(approveSchema);

export const rejectSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { platform: { type: 'string', enum: ['whatsapp'] }, reason: { type: 'string', maxLength: 1000 } },
};
const validateReject = bodyValidator<ReviewBody>(rejectSchema);

type WsParams = { Params: { workspaceId: string } };
type ProjectParams = { Params: { workspaceId: string; projectId: string } };
type VersionParams = { Params: { workspaceId: string; projectId: string; versionId: string } };

export function templateRoutes(app: FastifyInstance, ctx: AppContext): void {
  const requireProject = async (ws: string, id: string): Promise<Project> => {
    const project = await getProject(ctx.db, ws, id);
    if (!project) throw errors.notFound('project');
    return project;
  };

  // ---- projects ----

  app.post<WsParams>('/projects', async (request, reply) => {
    const body = validateCreateProject(request.body ?? {});
    const project = await createProject(ctx.db, request.principal.workspace.id, {
      name: body.name!,
      type: body.type!,
      description: body.description,
    });
    return reply.code(201).send(projectJson(project, emptyStats()));
  });

  app.get<WsParams>('/projects', async (request) => {
    const ws = request.principal.workspace.id;
    const page = await listProjects(ctx.db, ws, parseListQuery(request.query as Query).page);
    const stats = await projectStats(ctx.db, ws, page.items.map((p) => p.id));
    return { results: page.items.map((p) => projectJson(p, stats.get(p.id)!)), nextPageToken: token(page.next) };
  });

  app.get<ProjectParams>('/projects/:projectId', async (request) => {
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    const stats = await projectStats(ctx.db, ws, [project.id]);
    return projectJson(project, stats.get(project.id)!);
  });

  app.patch<ProjectParams>('/projects/:projectId', async (request) => {
    const body = validatePatchProject(request.body ?? {});
    const ws = request.principal.workspace.id;
    const project = await updateProject(ctx.db, ws, request.params.projectId, { name: body.name, description: body.description });
    if (!project) throw errors.notFound('project');
    const stats = await projectStats(ctx.db, ws, [project.id]);
    return projectJson(project, stats.get(project.id)!);
  });

  app.delete<ProjectParams>('/projects/:projectId', async (request, reply) => {
    if (!(await deleteProject(ctx.db, request.principal.workspace.id, request.params.projectId))) throw errors.notFound('project');
    return reply.code(204).send();
  });

  // ---- versions ("channel templates") ----

  app.post<ProjectParams>('/projects/:projectId/channel-templates', async (request, reply) => {
    const body = validateCreateVersion(request.body ?? {});
    const ws = request.principal.workspace.id;
    await requireProject(ws, request.params.projectId);
    const compiled = compileVersion(body);
    if (!compiled.ok) throw errors.invalidPayload(compiled.details);
    const version = await createVersion(ctx.db, ws, request.params.projectId, compiled.content, body.approval === 'auto');
    if (!version) throw errors.notFound('project');
    return reply.code(201).send(versionJson(version));
  });

  app.get<ProjectParams>('/projects/:projectId/channel-templates', async (request) => {
    const ws = request.principal.workspace.id;
    const { page, status } = parseListQuery(request.query as Query, true);
    const project = await requireProject(ws, request.params.projectId);
    const result = await listVersions(ctx.db, ws, project.id, { ...page, status });
    return { results: result.items.map(versionJson), nextPageToken: token(result.next) };
  });

  app.get<VersionParams>('/projects/:projectId/channel-templates/:versionId', async (request) => {
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    const id = request.params.versionId;
    if (id === 'latest') {
      const active = await getActiveVersion(ctx.db, ws, project.id);
      if (!active) throw errors.notFound('active channel template');
      return versionJson(active);
    }
    const version = /^[1-9]\d{0,8}$/.test(id)
      ? await getVersionByNumber(ctx.db, ws, project.id, Number(id))
      : await getVersion(ctx.db, ws, project.id, id);
    if (!version) throw errors.notFound('channel template');
    return versionJson(version);
  });

  app.delete<VersionParams>('/projects/:projectId/channel-templates/:versionId', async (request, reply) => {
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    if (!(await deleteVersion(ctx.db, ws, project.id, request.params.versionId))) throw errors.notFound('channel template');
    return reply.code(204).send();
  });

  app.post<VersionParams>('/projects/:projectId/channel-templates/:versionId/activate', async (request) => {
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    const version = await activateVersion(ctx.db, ws, project.id, request.params.versionId);
    if (!version) throw errors.notFound('channel template');
    return versionJson(version);
  });

  app.post<VersionParams>('/projects/:projectId/channel-templates/:versionId/approve', async (request) => {
    const body = validateApprove(request.body ?? {});
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    const version = await approveVersion(ctx.db, ws, project.id, request.params.versionId, body.platform ?? 'whatsapp');
    if (!version) throw errors.notFound('channel template');
    return versionJson(version);
  });

  app.post<VersionParams>('/projects/:projectId/channel-templates/:versionId/reject', async (request) => {
    const body = validateReject(request.body ?? {});
    const ws = request.principal.workspace.id;
    const project = await requireProject(ws, request.params.projectId);
    const version = await rejectVersion(ctx.db, ws, project.id, request.params.versionId, body.platform ?? 'whatsapp', body.reason ?? null);
    if (!version) throw errors.notFound('channel template');
    return versionJson(version);
  });
}

// ---- query ----

export const TEMPLATE_PAGE = { defaultLimit: 10, maxLimit: 100 };

function parseListQuery(q: Query, withStatus = false): { page: PageRequest; status?: VersionStatus[] } {
  const details: ErrorDetails = {};
  const page = readPageQuery(q, TEMPLATE_PAGE, details);
  let status: VersionStatus[] | undefined;
  if (withStatus) {
    const raw = [q.status, q['status[]']].flat().filter((v): v is string => typeof v === 'string');
    const values = raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    for (const s of values) {
      if (!VERSION_STATUSES.includes(s as VersionStatus)) (details.status ??= []).push(`"${s}" is not one of ${VERSION_STATUSES.join(', ')}`);
    }
    if (values.length) status = values as VersionStatus[];
  }
  if (Object.keys(details).length) throw errors.invalidQuery(details);
  return { page, status };
}

function token(next: Position | undefined): string | null {
  return next ? encodePageToken(next) : null;
}

// ---- JSON ----

function emptyStats(): ProjectStats {
  return { counts: { draft: 0, pending: 0, active: 0, inactive: 0, rejected: 0 } };
}

/** A project as the API shows it (Bird's Project, with the fields Aviary has). */
export function projectJson(p: Project, s: ProjectStats) {
  return {
    id: p.id,
    workspaceId: p.workspaceId,
    name: p.name,
    description: p.description,
    type: p.type,
    scope: 0,
    supportedPlatforms: s.active?.supportedPlatforms ?? [],
    locales: s.active?.locales ?? [],
    activeResourceId: s.active?.id ?? null,
    versionCount: p.versionCount,
    draftCount: s.counts.draft,
    pendingCount: s.counts.pending,
    activeCount: s.counts.active,
    inactiveCount: s.counts.inactive,
    rejectedCount: s.counts.rejected,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** A version as the API shows it (Bird's ChannelTemplate, plus `version` and `approvals`). */
export function versionJson(v: Version) {
  return {
    id: v.id,
    projectId: v.projectId,
    version: v.number,
    status: v.status,
    localeStatuses: Object.fromEntries(v.locales.map((l) => [l, v.status])),
    description: v.description,
    defaultLocale: v.defaultLocale,
    supportedPlatforms: v.supportedPlatforms,
    variables: v.variables,
    genericContent: v.genericContent,
    platformContent: v.platformContent,
    deployments: v.deployments,
    approvals: v.approvals,
    activatedAt: v.activatedAt?.toISOString() ?? null,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}

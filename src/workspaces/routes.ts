import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { readPageQuery } from '../http/page-query.ts';
import type { Query } from '../http/query.ts';
import { bodyValidator } from '../http/validate.ts';
import { createWorkspace, getWorkspace, pageWorkspaces, updateWorkspace, workspaceJson, type WorkspaceFields } from './workspaces.ts';

// Bird's Accounts API for workspaces, mounted under /organizations/{organizationId}:
//   GET   /workspaces?limit&pageToken&reverse   -> {results, nextPageToken}
//   POST  /workspaces                           -> 201, with one sandbox channel per platform
//   GET   /workspaces/{workspaceId}
//   PATCH /workspaces/{workspaceId}             name, description, dataPolicy, configuration
// The key must belong to the organization (403 otherwise, whether or not the organization exists, so
// a key cannot probe for other organizations). A key limited to one workspace sees only that one and
// may not create or change workspaces: those are organization-level acts.

const dataPolicy = {
  type: ['object', 'null'],
  properties: {
    group: { type: 'string', minLength: 1, maxLength: 64 },
    regions: {
      type: 'array',
      maxItems: 20,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['region'],
        properties: { region: { type: 'string', minLength: 1, maxLength: 64 }, priority: { type: 'integer', minimum: 0 } },
      },
    },
    piiStrategy: { type: 'string', minLength: 1, maxLength: 64 },
  },
};
const configuration = {
  type: ['object', 'null'],
  properties: { domain: { type: 'string', minLength: 1, maxLength: 253 } },
};
const editable = {
  name: { type: 'string', minLength: 1, maxLength: 256 },
  description: { type: ['string', 'null'], minLength: 1, maxLength: 256 },
  dataPolicy,
  configuration,
};

export const createWorkspaceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    ...editable,
    // Bird's: the user made owner of the workspace, and product flavours. Aviary has no users or
    // flavours, so both are checked and then ignored.
    userUsername: { type: ['string', 'null'], pattern: '^[a-z0-9._-]+$', maxLength: 256 },
    flavors: { type: ['array', 'null'], maxItems: 50, items: { type: 'string', maxLength: 100 } },
  },
};

export const updateWorkspaceSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: editable,
};

type Body = WorkspaceFields & { name?: string };
const validateCreate = bodyValidator<Body & { name: string }>(createWorkspaceSchema);
const validatePatch = bodyValidator<Body>(updateWorkspaceSchema);

/** What these routes need of the access key (auth/access-keys.ts OrganizationKey). */
interface OrganizationKey {
  organizationId: string;
  workspaceId: string | null;
}

/**
 * What the routes use. The server passes its AppContext and, as `seedWorkspace`, what a new
 * workspace gets (channels/sandbox-channels.ts); taking them as parameters keeps this low-layer
 * folder from importing the channels and the context above it.
 */
export interface OrganizationRouteDeps {
  db: Db;
  auth: { authenticate(request: FastifyRequest): Promise<OrganizationKey>; forgetWorkspace(id: string): void };
  config: { rateLimit: boolean };
  rateLimiter: { take(bucket: string, method: string): void };
  seedWorkspace(trx: Db, workspaceId: string): Promise<unknown>;
}

type OrgParams = { Params: { organizationId: string } };
type WorkspaceParams = { Params: { organizationId: string; workspaceId: string } };

declare module 'fastify' {
  interface FastifyRequest {
    organizationKey: OrganizationKey;
  }
}

function orgWideKey(request: FastifyRequest): OrganizationKey {
  const key = request.organizationKey;
  if (key.workspaceId) throw errors.forbidden();
  return key;
}

const fields = (b: Body): WorkspaceFields & { name?: string } => ({
  name: b.name,
  description: b.description,
  dataPolicy: b.dataPolicy,
  configuration: b.configuration,
});

export const WORKSPACE_PAGE = { defaultLimit: 10, maxLimit: 100 };

export function organizationRoutes(app: FastifyInstance, ctx: OrganizationRouteDeps): void {
  app.decorateRequest('organizationKey', null as unknown as OrganizationKey);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const key = await ctx.auth.authenticate(request);
    const { organizationId } = request.params as { organizationId: string };
    if (organizationId.toLowerCase() !== key.organizationId) throw errors.forbidden();
    // Organization-level requests share one bucket per organization (Bird's limits are per workspace).
    if (ctx.config.rateLimit) ctx.rateLimiter.take(`organization:${key.organizationId}`, request.method);
    request.organizationKey = key;
  });

  app.get<OrgParams>('/workspaces', async (request) => {
    const key = request.organizationKey;
    const details: ErrorDetails = {};
    const page = readPageQuery(request.query as Query, WORKSPACE_PAGE, details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const { workspaces, nextPageToken } = await pageWorkspaces(ctx.db, key.organizationId, { ...page, onlyId: key.workspaceId ?? undefined });
    return { results: workspaces.map(workspaceJson), nextPageToken };
  });

  app.post<OrgParams>('/workspaces', async (request, reply) => {
    const key = orgWideKey(request);
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validateCreate(request.body);
    const workspace = await ctx.db.transaction().execute(async (trx) => {
      const ws = await createWorkspace(trx, key.organizationId, body.name, fields(body));
      await ctx.seedWorkspace(trx, ws.id);
      return ws;
    });
    return reply.code(201).send(workspaceJson(workspace));
  });

  app.get<WorkspaceParams>('/workspaces/:workspaceId', async (request) => {
    const key = request.organizationKey;
    const ws = await getWorkspace(ctx.db, request.params.workspaceId);
    if (!ws || ws.organizationId !== key.organizationId) throw errors.notFound('workspace');
    if (key.workspaceId && key.workspaceId !== ws.id) throw errors.forbidden();
    return workspaceJson(ws);
  });

  app.patch<WorkspaceParams>('/workspaces/:workspaceId', async (request) => {
    const key = orgWideKey(request);
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validatePatch(request.body);
    const ws = await updateWorkspace(ctx.db, key.organizationId, request.params.workspaceId, fields(body));
    if (!ws) throw errors.notFound('workspace');
    ctx.auth.forgetWorkspace(ws.id);
    return workspaceJson(ws);
  });
}

import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { readPageQuery } from '../http/page-query.ts';
import { singleParam, type Query } from '../http/query.ts';
import { bodyValidator } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { getDelivery, listDeliveries, redeliver, EXECUTION_STATUSES, type DeliveryRow, type ExecutionStatus } from './deliveries.ts';
import { SERVICES, type Service } from './events.ts';
import { requestHeaders } from './http-sender.ts';
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  subscriptionJson,
  updateSubscription,
  type EventFilter,
  type SubscriptionRow,
} from './subscriptions.ts';
import { checkSubscriptionUrl, MAX_URL_LENGTH } from './url-guard.ts';

// Bird's webhook subscriptions API, mounted under /workspaces/{workspaceId} and under
// /organizations/{organizationId}/workspaces/{workspaceId} (src/server/server.ts):
//   POST   /webhook-subscriptions                         -> 201
//   GET    /webhook-subscriptions?limit&pageToken         -> {results, nextPageToken}
//   GET    /webhook-subscriptions/{id}
//   PATCH  /webhook-subscriptions/{id}                    at least one of template, url, signingKey, status, eventFilters
//   DELETE /webhook-subscriptions/{id}                    -> 204
//   GET    /webhook-subscriptions/{id}/logs?limit&pageToken&executionStatus
//   GET    /webhook-subscriptions/{id}/logs/details?requestId=   every attempt of one request
//   POST   /webhook-subscriptions/{id}/logs/{requestId}/redeliver -> 202 (Aviary)

const eventFilters = {
  type: ['array', 'null'],
  maxItems: 50,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['key', 'value'],
    properties: { key: { type: 'string', minLength: 1, maxLength: 100 }, value: { type: 'string', minLength: 1, maxLength: 255 } },
  },
};
const editable = {
  eventFilters,
  template: { type: ['string', 'null'], maxLength: 65_536 },
  url: { type: 'string', minLength: 1, maxLength: MAX_URL_LENGTH },
  signingKey: { type: 'string', minLength: 1, maxLength: 1024 },
  standardWebhooks: { type: 'boolean' },
};

export const createSubscriptionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'event', 'url'],
  properties: {
    service: { type: 'string', enum: SERVICES },
    event: { type: 'string', minLength: 1, maxLength: 100 },
    ...editable,
  },
};

export const updateSubscriptionSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { ...editable, status: { type: 'string', enum: ['active', 'inactive'] } },
};

interface CreateBody {
  service: Service;
  event: string;
  eventFilters?: EventFilter[] | null;
  template?: string | null;
  url: string;
  signingKey?: string;
  standardWebhooks?: boolean;
}
type PatchBody = Partial<Omit<CreateBody, 'service' | 'event'>> & { status?: 'active' | 'inactive' };

const validateCreate = bodyValidator<CreateBody>(createSubscriptionSchema);
const validatePatch = bodyValidator<PatchBody>(updateSubscriptionSchema);

type SubscriptionParams = { Params: { workspaceId: string; webhookSubscriptionId: string } };

export const DEFAULT_PAGE = 10;

export const WEBHOOK_PAGE = { defaultLimit: DEFAULT_PAGE, maxLimit: 100 };

export function logEntryJson(d: DeliveryRow) {
  return {
    requestId: d.id,
    attemptCount: d.attempt_count,
    httpStatusCode: d.http_status_code,
    executionStatus: d.execution_status,
    createdAt: d.created_at.toISOString(),
    event: d.event,
    nextAttemptAt: d.next_attempt_at?.toISOString() ?? null,
    redeliveryOf: d.redelivery_of,
  };
}

export function logDetailsJson(d: DeliveryRow) {
  return {
    ...logEntryJson(d),
    subscriptionId: d.subscription_id,
    requestBody: d.body,
    results: d.attempts.map((a) => ({
      attempt: a.attempt,
      createdAt: a.at,
      url: a.url,
      requestHeaders: a.signature === null ? {} : requestHeaders({ id: d.id, createdAt: d.created_at, bodyLength: Buffer.byteLength(d.body) }, { bird: a.signature, standard: a.standardSignature }),
      requestBody: d.body,
      httpStatusCode: a.httpStatusCode,
      responseBody: a.responseBody,
      durationMs: a.durationMs,
      error: a.error,
    })),
  };
}

export function webhookRoutes(app: FastifyInstance, ctx: AppContext): void {
  const checkUrl = async (url: string | undefined) => {
    if (url === undefined) return;
    const problems = await checkSubscriptionUrl(url, ctx.config.webhookAllowPrivateUrls);
    if (problems.length) throw errors.invalidPayload({ '.url': problems });
  };
  const requireSubscription = async (workspaceId: string, id: string): Promise<SubscriptionRow> => {
    const s = await getSubscription(ctx.db, workspaceId, id);
    if (!s) throw errors.notFound('webhook subscription');
    return s;
  };

  app.post<{ Params: { workspaceId: string } }>('/webhook-subscriptions', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validateCreate(request.body);
    await checkUrl(body.url);
    const { workspace } = request.principal;
    const s = await createSubscription(ctx.db, ctx.outbox, workspace.id, {
      organizationId: workspace.organizationId,
      service: body.service,
      event: body.event,
      eventFilters: body.eventFilters,
      template: body.template,
      url: body.url,
      signingKey: body.signingKey,
      standardWebhooks: body.standardWebhooks,
    });
    return reply.code(201).send(subscriptionJson(s));
  });

  app.get<{ Params: { workspaceId: string } }>('/webhook-subscriptions', async (request) => {
    const details: ErrorDetails = {};
    const pageRequest = readPageQuery(request.query as Query, WEBHOOK_PAGE, details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const page = await listSubscriptions(ctx.db, request.principal.workspace.id, pageRequest);
    return { results: page.rows.map(subscriptionJson), nextPageToken: page.nextPageToken };
  });

  app.get<SubscriptionParams>('/webhook-subscriptions/:webhookSubscriptionId', async (request) =>
    subscriptionJson(await requireSubscription(request.principal.workspace.id, request.params.webhookSubscriptionId)),
  );

  app.patch<SubscriptionParams>('/webhook-subscriptions/:webhookSubscriptionId', async (request) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validatePatch(request.body);
    const ws = request.principal.workspace.id;
    await requireSubscription(ws, request.params.webhookSubscriptionId);
    await checkUrl(body.url);
    const s = await updateSubscription(ctx.db, ctx.outbox, ws, request.params.webhookSubscriptionId, body);
    if (!s) throw errors.notFound('webhook subscription');
    return subscriptionJson(s);
  });

  app.delete<SubscriptionParams>('/webhook-subscriptions/:webhookSubscriptionId', async (request, reply) => {
    if (!(await deleteSubscription(ctx.db, ctx.outbox, request.principal.workspace.id, request.params.webhookSubscriptionId))) {
      throw errors.notFound('webhook subscription');
    }
    return reply.code(204).send();
  });

  app.get<SubscriptionParams>('/webhook-subscriptions/:webhookSubscriptionId/logs', async (request) => {
    const details: ErrorDetails = {};
    const q = request.query as Query;
    const pageRequest = readPageQuery(q, WEBHOOK_PAGE, details);
    const status = singleParam(q, 'executionStatus', details);
    if (status !== undefined && !(EXECUTION_STATUSES as string[]).includes(status)) {
      details.executionStatus = [`must be one of: ${EXECUTION_STATUSES.join(', ')}`];
    }
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const ws = request.principal.workspace.id;
    const s = await requireSubscription(ws, request.params.webhookSubscriptionId);
    const page = await listDeliveries(ctx.db, ws, s.id, { ...pageRequest, status: status as ExecutionStatus | undefined });
    return { results: page.rows.map(logEntryJson), nextPageToken: page.nextPageToken };
  });

  app.get<SubscriptionParams>('/webhook-subscriptions/:webhookSubscriptionId/logs/details', async (request) => {
    const q = request.query as Query;
    const requestId = q.requestId;
    if (Array.isArray(requestId)) throw errors.invalidQuery({ requestId: ['must be given once'] });
    if (!requestId) throw errors.invalidQuery({ requestId: ['is required'] });
    const ws = request.principal.workspace.id;
    const s = await requireSubscription(ws, request.params.webhookSubscriptionId);
    const d = isUuid(requestId) ? await getDelivery(ctx.db, ws, s.id, requestId) : undefined;
    if (!d) throw errors.notFound('webhook request');
    return logDetailsJson(d);
  });

  app.post<{ Params: { workspaceId: string; webhookSubscriptionId: string; requestId: string } }>(
    '/webhook-subscriptions/:webhookSubscriptionId/logs/:requestId/redeliver',
    async (request, reply) => {
      const ws = request.principal.workspace.id;
      const s = await requireSubscription(ws, request.params.webhookSubscriptionId);
      const original = isUuid(request.params.requestId) ? await getDelivery(ctx.db, ws, s.id, request.params.requestId) : undefined;
      if (!original) throw errors.notFound('webhook request');
      return reply.code(202).send(logEntryJson(await redeliver(ctx.db, ctx.outbox, original)));
    },
  );
}

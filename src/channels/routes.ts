import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { readPageQuery } from '../http/page-query.ts';
import { singleParam, type Query } from '../http/query.ts';
import { channelJson, createChannel, deleteChannel, listChannelPage, updateChannel, type ChannelFilter, type NewChannel } from './channels.ts';
import { PLATFORM_NAMES, PLATFORMS, type Platform } from './platforms.ts';
import { emitChannelEvent } from './channel-events.ts';
import { checkConnectorConfig } from './connector-config.ts';

export const CHANNEL_PAGE = { defaultLimit: 10, maxLimit: 1000 };

const platformIds = Object.values(PLATFORMS).map((p) => p.platformId);

const editable = {
  name: { type: 'string', minLength: 1, maxLength: 255 },
  status: { type: 'string', enum: ['active', 'inactive'] },
  identifier: { type: ['string', 'null'], maxLength: 255 },
  connector: {
    type: 'object',
    additionalProperties: false,
    properties: {
      type: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
      config: { type: 'object' },
    },
  },
  settings: {
    type: 'object',
    properties: {
      sendRatePerSecond: { type: 'number', exclusiveMinimum: 0 },
      // Where the connector's session lives: one per worker process, or one in the whole cluster
      // (an SMSC that allows a single bind): dispatch/session-leases.ts.
      sessionScope: { enum: ['process', 'cluster'] },
    },
  },
};

interface ChannelBody {
  name?: string;
  platform?: Platform;
  platformId?: string;
  status?: 'active' | 'inactive';
  identifier?: string | null;
  connector?: { type?: string; config?: Record<string, unknown> };
  settings?: Record<string, unknown>;
}

const validateCreate = bodyValidator<ChannelBody>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  anyOf: [{ required: ['platform'] }, { required: ['platformId'] }],
  properties: {
    ...editable,
    platform: { type: 'string', enum: PLATFORM_NAMES },
    platformId: { type: 'string', enum: platformIds },
  },
});

const validatePatch = bodyValidator<ChannelBody>({
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: editable,
});

export function channelRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { workspaceId: string } }>('/channels', async (request, reply) => {
    const body = validateCreate(request.body ?? {});
    const platform =
      body.platform ?? (Object.entries(PLATFORMS).find(([, p]) => p.platformId === body.platformId)![0] as Platform);
    if (body.platform && body.platformId && PLATFORMS[body.platform].platformId !== body.platformId) {
      throw errors.invalidPayload({ '.platformId': [`does not belong to platform "${body.platform}"`] });
    }
    checkConnectorConfig(ctx.connectors, platform, body.connector?.type ?? 'sandbox', body.connector?.config ?? {});
    const input: NewChannel = {
      platform,
      name: body.name!,
      status: body.status,
      senderIdentifier: body.identifier,
      connectorType: body.connector?.type,
      connectorConfig: body.connector?.config,
      settings: body.settings,
    };
    // channel.created webhooks commit with the channel.
    const channel = await ctx.db.transaction().execute(async (trx) => {
      const c = await createChannel(trx, request.principal.workspace.id, input);
      await emitChannelEvent(trx, ctx.outbox, 'channel.created', c, channelJson(c, ctx.connectors));
      return c;
    });
    return reply.code(201).send(channelJson(channel, ctx.connectors));
  });

  app.get<{ Params: { workspaceId: string } }>('/channels', async (request) => {
    const q = request.query as Query;
    const details: ErrorDetails = {};
    const filter: ChannelFilter = readPageQuery(q, CHANNEL_PAGE, details);
    const platform = singleParam(q, 'platform', details);
    if (platform !== undefined) {
      // Bird's platform ids (sms-messagebird) and Aviary's platform names (sms) both select.
      const name = PLATFORM_NAMES.find((p) => p === platform || PLATFORMS[p].platformId === platform);
      if (name) filter.platforms = [name];
      else details.platform = [`"${platform}" is not a platform`];
    }
    const status = singleParam(q, 'status', details);
    if (status !== undefined) {
      if (status === 'active' || status === 'inactive') filter.status = status;
      else details.status = ['must be active or inactive'];
    }
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const page = await listChannelPage(ctx.db, request.principal.workspace.id, filter);
    return { results: page.rows.map((c) => channelJson(c, ctx.connectors)), nextPageToken: page.nextPageToken };
  });

  app.get<{ Params: { workspaceId: string; channelId: string } }>('/channels/:channelId', async (request) => {
    const channel = await ctx.channels.get(request.principal.workspace.id, request.params.channelId);
    if (!channel) throw errors.notFound('channel');
    return channelJson(channel, ctx.connectors);
  });

  app.patch<{ Params: { workspaceId: string; channelId: string } }>('/channels/:channelId', async (request) => {
    const body = validatePatch(request.body ?? {});
    const ws = request.principal.workspace.id;
    const channel = await ctx.channels.get(ws, request.params.channelId);
    if (!channel) throw errors.notFound('channel');
    // A patch of connector.config merges, so a secret need not be re-sent to change another field;
    // a new connector type starts from the config given with it.
    const connectorType = body.connector?.type ?? channel.connectorType;
    const typeChanged = connectorType !== channel.connectorType;
    const connectorConfig = body.connector?.config || typeChanged ? { ...(typeChanged ? {} : channel.connectorConfig), ...body.connector?.config } : undefined;
    if (connectorConfig) checkConnectorConfig(ctx.connectors, channel.platform, connectorType, connectorConfig);
    // channel.updated webhooks commit with the change.
    const updated = await ctx.db.transaction().execute(async (trx) => {
      const u = await updateChannel(trx, ws, channel.id, {
        name: body.name,
        status: body.status,
        senderIdentifier: body.identifier,
        connectorType: body.connector?.type,
        connectorConfig,
        settings: body.settings,
      });
      if (u) await emitChannelEvent(trx, ctx.outbox, 'channel.updated', u, channelJson(u, ctx.connectors));
      return u;
    });
    ctx.channels.forget(ws, channel.id);
    if (!updated) throw errors.notFound('channel');
    return channelJson(updated, ctx.connectors);
  });

  app.delete<{ Params: { workspaceId: string; channelId: string } }>('/channels/:channelId', async (request, reply) => {
    const ws = request.principal.workspace.id;
    const channel = await ctx.channels.get(ws, request.params.channelId);
    if (!channel || !(await deleteChannel(ctx.db, ws, channel.id))) throw errors.notFound('channel');
    ctx.channels.forget(ws, channel.id);
    return reply.code(204).send();
  });
}

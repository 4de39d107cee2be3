import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { cancelMessage } from './cancel-message.ts';
import { listMessages, parseMessageQuery, type MessageFilter } from './list-messages.ts';
import { messageJson } from './message-json.ts';
import { checkSend } from './check-send.ts';

type ChannelParams = { Params: { workspaceId: string; channelId: string } };
type Query = Record<string, string | string[] | undefined>;

export async function activeChannel(ctx: AppContext, workspaceId: string, channelId: string): Promise<Channel> {
  const channel = await requireChannel(ctx, workspaceId, channelId);
  if (channel.status !== 'active') throw errors.channelInactive();
  return channel;
}

async function requireChannel(ctx: AppContext, workspaceId: string, channelId: string): Promise<Channel> {
  const channel = await ctx.channels.get(workspaceId, channelId);
  if (!channel) throw errors.notFound('channel');
  return channel;
}

export function messageRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<ChannelParams>('/channels/:channelId/messages', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const ws = request.principal.workspace.id;
    const channel = await activeChannel(ctx, ws, request.params.channelId);
    const pending = await checkSend(ctx, channel, request.body);
    // Resolves only after the transaction holding the message has committed: 202 means durable.
    const row = await ctx.messageWriter.submit(pending);
    return reply.code(202).send(messageJson(row));
  });

  app.get<ChannelParams>('/channels/:channelId/messages', async (request) => {
    const ws = request.principal.workspace.id;
    const filter = parseMessageQuery(request.query as Query);
    const channel = await requireChannel(ctx, ws, request.params.channelId);
    return listPage(ctx, ws, { ...filter, channelId: channel.id });
  });

  app.get<{ Params: { workspaceId: string } }>('/messages', async (request) => {
    return listPage(ctx, request.principal.workspace.id, parseMessageQuery(request.query as Query));
  });

  app.get<{ Params: { workspaceId: string; channelId: string; messageId: string } }>(
    '/channels/:channelId/messages/:messageId',
    async (request) => {
      const ws = request.principal.workspace.id;
      const channel = await requireChannel(ctx, ws, request.params.channelId);
      return getMessageJson(ctx, request, ws, request.params.messageId, channel.id);
    },
  );

  app.delete<{ Params: { workspaceId: string; channelId: string; messageId: string } }>(
    '/channels/:channelId/messages/:messageId',
    async (request, reply) => {
      const ws = request.principal.workspace.id;
      const channel = await requireChannel(ctx, ws, request.params.channelId);
      await cancelMessage(ctx.db, ctx.outbox, ws, channel.id, request.params.messageId, ctx.clock.now());
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { workspaceId: string; messageId: string } }>('/messages/:messageId', async (request) =>
    getMessageJson(ctx, request, request.principal.workspace.id, request.params.messageId),
  );
}

async function getMessageJson(ctx: AppContext, _request: FastifyRequest, ws: string, id: string, channelId?: string) {
  if (!isUuid(id)) throw errors.notFound('message');
  let q = ctx.db.selectFrom('messages').selectAll().where('workspace_id', '=', ws).where('id', '=', id);
  if (channelId) q = q.where('channel_id', '=', channelId);
  const row = await q.executeTakeFirst();
  if (!row) throw errors.notFound('message');
  return messageJson(row);
}

async function listPage(ctx: AppContext, ws: string, filter: MessageFilter) {
  const page = await listMessages(ctx.db, ws, filter);
  const results = page.rows.map(messageJson);
  const times = page.rows.map((r) => r.created_at.getTime());
  const range = times.length ? [Math.min(...times), Math.max(...times)] : undefined;
  return {
    startAt: (filter.startAt ?? (range && new Date(range[0])))?.toISOString() ?? null,
    endAt: (filter.endAt ?? (range && new Date(range[1])))?.toISOString() ?? null,
    nextPageToken: page.nextPageToken ?? null,
    results,
  };
}

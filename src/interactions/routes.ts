import type { FastifyInstance } from 'fastify';
import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { decodePageToken } from '../http/page-token.ts';
import { isUuid } from '../ids.ts';
import { channelContactInformation } from './channel-contact.ts';
import { interactionJson, listInteractions } from './store.ts';

// Bird's read side of interactions and of per-contact channel state:
//   GET /channels/{channelId}/messages/{messageId}/interactions  -> {results, nextPageToken}
//   GET /channels/{channelId}/contacts/{contactId}               -> ChannelContactInformation
// Interactions are recorded by providers; in the sandbox, by sandbox/simulate-routes.ts.

type Query = Record<string, string | string[] | undefined>;

async function requireChannel(ctx: AppContext, workspaceId: string, channelId: string): Promise<Channel> {
  const channel = isUuid(channelId) ? await ctx.channels.get(workspaceId, channelId) : undefined;
  if (!channel) throw errors.notFound('channel');
  return channel;
}

// Bird documents no query parameters here, so a Bird client never pages: the default page is the
// largest one. `limit` (1-100) and `pageToken` work as on every other Aviary list.
const DEFAULT_LIMIT = 100;

export function interactionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { workspaceId: string; channelId: string; messageId: string } }>(
    '/channels/:channelId/messages/:messageId/interactions',
    async (request) => {
      const ws = request.principal.workspace.id;
      const q = request.query as Query;
      const details: ErrorDetails = {};
      for (const k of ['limit', 'pageToken']) if (Array.isArray(q[k])) details[k] = ['must be given once'];
      const limitRaw = q.limit as string | undefined;
      const limit = limitRaw === undefined ? DEFAULT_LIMIT : Number(limitRaw);
      if (!details.limit && limitRaw !== undefined && (!/^\d+$/.test(limitRaw) || limit < 1 || limit > 100)) {
        details.limit = ['must be an integer from 1 to 100'];
      }
      if (Object.keys(details).length) throw errors.invalidQuery(details);
      const after = typeof q.pageToken === 'string' && q.pageToken ? decodePageToken(q.pageToken) : undefined;

      const channel = await requireChannel(ctx, ws, request.params.channelId);
      const messageId = request.params.messageId;
      const message = isUuid(messageId)
        ? await ctx.db
            .selectFrom('messages')
            .select('id')
            .where('workspace_id', '=', ws)
            .where('channel_id', '=', channel.id)
            .where('id', '=', messageId)
            .executeTakeFirst()
        : undefined;
      if (!message) throw errors.notFound('message');
      const page = await listInteractions(ctx.db, ws, message.id, { limit, after });
      return { results: page.rows.map(interactionJson), nextPageToken: page.nextPageToken };
    },
  );

  app.get<{ Params: { workspaceId: string; channelId: string; contactId: string } }>(
    '/channels/:channelId/contacts/:contactId',
    async (request) => {
      const ws = request.principal.workspace.id;
      const channel = await requireChannel(ctx, ws, request.params.channelId);
      const contactId = request.params.contactId;
      const contact = isUuid(contactId)
        ? await ctx.db.selectFrom('contacts').select('id').where('workspace_id', '=', ws).where('id', '=', contactId).executeTakeFirst()
        : undefined;
      if (!contact) throw errors.notFound('contact');
      return channelContactInformation(ctx.db, channel, contact.id);
    },
  );
}

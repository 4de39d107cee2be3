import type { FastifyInstance } from 'fastify';
import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { readPageQuery } from '../http/page-query.ts';
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
export const INTERACTION_PAGE = { defaultLimit: 100, maxLimit: 100 };

export function interactionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { workspaceId: string; channelId: string; messageId: string } }>(
    '/channels/:channelId/messages/:messageId/interactions',
    async (request) => {
      const ws = request.principal.workspace.id;
      const q = request.query as Query;
      const details: ErrorDetails = {};
      const pageRequest = readPageQuery(q, INTERACTION_PAGE, details);
      if (Object.keys(details).length) throw errors.invalidQuery(details);

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
      const page = await listInteractions(ctx.db, ws, message.id, pageRequest);
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

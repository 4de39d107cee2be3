import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { ChannelCache } from '../channels/channel-cache.ts';
import { errors } from '../errors.ts';
import type { Query } from '../http/query.ts';
import { isUuid } from '../ids.ts';
import { getWorkspace, listWorkspaces } from '../workspaces/workspaces.ts';
import { inboxAssets, type InboxAssets } from './bundle.ts';
import { LiveStreams } from './live.ts';
import { listConversations, parseInboxQuery, searchMessages } from './search.ts';
import { messagesByIds, withTimelines } from './timeline.ts';

// The web inbox (docs/inbox.md), Aviary's own paths:
//   GET /inbox, /inbox/app.js, /inbox/app.css                   the page (no key: it holds no data)
//   GET /inbox/api/session                                      the key's organization and workspaces
//   GET /inbox/api/workspaces/{ws}/conversations?channelId=     a channel's contacts, latest first
//   GET /inbox/api/workspaces/{ws}/messages?channelId&contact&platform&status&tag&text&limit&pageToken
//   GET /inbox/api/workspaces/{ws}/messages/{id}                one message with its timeline
//   GET /inbox/api/workspaces/{ws}/events                       live updates (server-sent events)
// Everything else the page does (channels, sending as the contact, webhooks, media) goes through the
// API a test would use, so what the inbox shows and does, a test can check and do.

export interface InboxDeps {
  db: Db;
  auth: Authenticator;
  channels: ChannelCache;
}

// The page runs only its own script, talks only to this origin, and frames email HTML only as
// srcdoc in a sandbox without scripts. Media shown in messages may come from anywhere.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  'img-src * data: blob:',
  'media-src * data: blob:',
  // Uploads go to the presigned uploadUrl, which is an S3 bucket when media live in one.
  "connect-src 'self' https: http:",
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGES: Record<string, keyof InboxAssets> = { '/inbox': 'index.html', '/inbox/app.js': 'app.js', '/inbox/app.css': 'app.css' };

export function inboxPageRoutes(app: FastifyInstance): void {
  for (const [path, name] of Object.entries(PAGES)) {
    app.get(path, async (_request, reply) => {
      const asset = (await inboxAssets())[name];
      return reply
        .header('content-type', asset.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        // Rebuilt per process: revalidate rather than keep a stale bundle after an upgrade.
        .header('cache-control', 'no-cache')
        .send(asset.body);
    });
  }
}

/** GET /inbox/api/session: who the key is; the workspaces it may open. */
export function inboxSessionRoute(app: FastifyInstance, deps: InboxDeps): void {
  app.get('/inbox/api/session', async (request) => {
    const key = await deps.auth.authenticate(request);
    const workspaces = key.workspaceId
      ? [await getWorkspace(deps.db, key.workspaceId)].filter((w) => w !== undefined)
      : await listWorkspaces(deps.db, key.organizationId);
    return {
      organizationId: key.organizationId,
      workspaces: workspaces.map((w) => ({ id: w.id, name: w.name, status: w.status })),
    };
  });
}

type WsRequest = FastifyRequest<{ Params: { workspaceId: string } }>;

/** The workspace routes; mounted by the server under /inbox/api/workspaces/:workspaceId behind its key check. */
export function inboxApiRoutes(app: FastifyInstance, deps: InboxDeps): void {
  const live = new LiveStreams();
  app.addHook('preClose', (done) => {
    live.closeAll();
    done();
  });
  const ws = (request: WsRequest) => request.principal.workspace.id;

  app.get('/conversations', async (request: WsRequest) => {
    const channelId = (request.query as Query).channelId;
    if (typeof channelId !== 'string' || !isUuid(channelId)) throw errors.invalidQuery({ channelId: ['is required: a channel id'] });
    const channel = await deps.channels.get(ws(request), channelId);
    if (!channel) throw errors.notFound('channel');
    return { results: await listConversations(deps.db, ws(request), channel.id) };
  });

  app.get('/messages', async (request: WsRequest) => {
    const filter = parseInboxQuery(request.query as Query);
    const page = await searchMessages(deps.db, ws(request), filter);
    return { results: await withTimelines(deps.db, ws(request), page.rows), nextPageToken: page.nextPageToken };
  });

  app.get('/messages/:messageId', async (request: FastifyRequest<{ Params: { workspaceId: string; messageId: string } }>) => {
    const id = request.params.messageId;
    const rows = isUuid(id) ? await messagesByIds(deps.db, request.principal.workspace.id, [id]) : [];
    if (rows.length === 0) throw errors.notFound('message');
    return (await withTimelines(deps.db, request.principal.workspace.id, rows))[0];
  });

  app.get('/events', async (request: WsRequest, reply) => live.serve(deps.db, ws(request), request, reply));
}

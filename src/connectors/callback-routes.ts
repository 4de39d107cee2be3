import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ChannelCache } from '../channels/channel-cache.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';
import { errors } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Connector } from './connector.ts';
import { createConnectorContext, type MediaAccess } from './connector-context.ts';
import { reportWriter } from './reports.ts';

// Providers' HTTP callbacks (webhooks): `GET|POST /connectors/{type}/{workspaceId}/{channelId}/{callback}`
// (GET for the verification handshakes some providers make), the raw body kept as bytes so the connector can check the provider's own signature over
// exactly what was sent. No access key: the signature is the credential, and the connector checks it
// before it returns any event. The events it returns are committed (connector_events, the same
// durable path as a session's reports) before the provider gets its answer, so an acknowledged
// callback survives a crash; applying them is the workers' job, in whichever process.

export interface CallbackDeps {
  db: Db;
  log: Logger;
  clock: Clock;
  channels: ChannelCache;
  connectors: Map<string, Connector>;
  checkUrl(url: string): void;
  media?: MediaAccess;
  /** Wakes this process's workers once reports are committed. */
  wake(): void;
}

export function connectorCallbackRoutes(app: FastifyInstance, deps: CallbackDeps): void {
  const reports = reportWriter(deps.db, deps.wake);
  app.addHook('onClose', async () => reports.drain());
  // Every body as bytes, whatever its type (JSON, form, XML): parsing is the connector's business.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const handle = async (request: FastifyRequest<{ Params: { type: string; workspaceId: string; channelId: string; callback: string } }>, reply: import('fastify').FastifyReply) => {
    const { type, workspaceId, channelId } = request.params;
    if (!isUuid(workspaceId) || !isUuid(channelId)) throw errors.notFound('channel');
    const channel = await deps.channels.get(workspaceId.toLowerCase(), channelId.toLowerCase());
    const connector = deps.connectors.get(type);
    if (!channel || channel.connectorType !== type || !connector?.callback) throw errors.notFound('channel');
    // An inactive channel receives nothing; a non-2xx makes the provider try again later.
    if (channel.status !== 'active') throw errors.conflict('the channel is inactive');
    const ctx = createConnectorContext(channel, { log: deps.log, clock: deps.clock, media: deps.media, checkUrl: deps.checkUrl, writeReports: (rows) => reports.submit(rows) });
    const res = await connector.callback(channel, {
      method: request.method,
      path: `/${request.params.callback}`,
      query: Object.fromEntries(Object.entries((request.query ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
      headers: request.headers,
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    }, ctx);
    if (res.events?.length) await ctx.report(res.events);
    reply.code(res.status);
    for (const [k, v] of Object.entries(res.headers ?? {})) reply.header(k, v);
    return reply.send(res.body ?? '');
  };
  app.get('/:type/:workspaceId/:channelId/:callback', handle);
  app.post('/:type/:workspaceId/:channelId/:callback', handle);
}

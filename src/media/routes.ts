import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { refMatchesRow, type MediaRef, type MediaRow } from './paths.ts';
import { verifyLink } from './policy.ts';
import { mediaOf, UPLOAD_PATH, type MediaService } from './service.ts';
import { receiveUpload } from './upload.ts';

// Media over HTTP (docs/media.md).
// Behind an access key (mounted under /workspaces/:workspaceId):
//   POST /channel-media/presigned-upload                  an upload usable on any channel
//   POST /channels/:channelId/presigned-upload            an upload bound to one channel
//   GET  /channel-media/:mediaId                          uploaded media
//   GET  /channels/:channelId/media/:mediaId              uploaded media, channel-bound
//   GET  /messages/:messageId/media/:mediaId              media of an incoming message
// Without one (the policy or the link signature is the credential):
//   POST /media                                           the presigned upload itself (local storage)
//   GET  /media/:workspaceId/:mediaId?expires&signature   a signed, expiring link (for providers)

export const CONTENT_TYPE_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  // It becomes a header and a form field: no control characters.
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
};

interface PresignBody {
  contentType: string;
}

const validatePresign = bodyValidator<PresignBody>({
  type: 'object',
  additionalProperties: false,
  required: ['contentType'],
  properties: { contentType: CONTENT_TYPE_SCHEMA },
});

export function mediaRoutes(app: FastifyInstance, ctx: AppContext): void {
  const svc = mediaOf(ctx);
  const body = (raw: unknown) => {
    if (raw === undefined || raw === null) throw errors.badRequest('A JSON request body is required');
    return validatePresign(raw);
  };

  app.post('/channel-media/presigned-upload', async (request) => {
    const { contentType } = body(request.body);
    return svc.presign(request.principal.workspace.id, null, contentType);
  });

  app.post<{ Params: { channelId: string } }>('/channels/:channelId/presigned-upload', async (request) => {
    const ws = request.principal.workspace.id;
    const channel = isUuid(request.params.channelId) ? await ctx.channels.get(ws, request.params.channelId) : undefined;
    if (!channel) throw errors.notFound('channel');
    const { contentType } = body(request.body);
    return svc.presign(ws, channel.id, contentType);
  });

  const get = async (reply: FastifyReply, ref: MediaRef | undefined) => {
    const row = ref ? await svc.find(ref.workspaceId, ref.mediaId) : undefined;
    if (!row || !refMatchesRow(ref!, row)) throw errors.notFound('media');
    return sendMedia(svc, reply, row);
  };
  const id = (v: string) => (isUuid(v) ? v.toLowerCase() : undefined);

  app.get<{ Params: { mediaId: string } }>('/channel-media/:mediaId', async (request, reply) => {
    const mediaId = id(request.params.mediaId);
    return get(reply, mediaId ? { kind: 'upload', workspaceId: request.principal.workspace.id, channelId: null, mediaId } : undefined);
  });
  app.get<{ Params: { channelId: string; mediaId: string } }>('/channels/:channelId/media/:mediaId', async (request, reply) => {
    const mediaId = id(request.params.mediaId);
    const channelId = id(request.params.channelId);
    return get(reply, mediaId && channelId ? { kind: 'upload', workspaceId: request.principal.workspace.id, channelId, mediaId } : undefined);
  });
  app.get<{ Params: { messageId: string; mediaId: string } }>('/messages/:messageId/media/:mediaId', async (request, reply) => {
    const mediaId = id(request.params.mediaId);
    const messageId = id(request.params.messageId);
    return get(reply, mediaId && messageId ? { kind: 'inbound', workspaceId: request.principal.workspace.id, messageId, mediaId } : undefined);
  });
}

/** The routes that take no access key; in their own scope, since they read multipart bodies. */
export function publicMediaRoutes(app: FastifyInstance, ctx: AppContext): void {
  const svc = mediaOf(ctx);
  svc.attach(app);
  const uploadLimits = {
    minBytesPerSecond: ctx.config.mediaUploadMinRate,
    windowMs: ctx.config.mediaUploadRateWindowMs,
    timeoutMs: ctx.config.mediaUploadTimeoutMs,
  };
  app.register(async (scope) => {
    // The body is left unread for the handler to stream: no size limit or buffering by Fastify.
    scope.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));

    scope.post(UPLOAD_PATH, async (request, reply) => {
      const type = request.headers['content-type'] ?? '';
      if (!/^multipart\/form-data\s*;/i.test(type)) {
        // Not an upload, so no byte-rate floor: the connection is closed with the answer.
        request.raw.resume();
        return reply.code(415).header('connection', 'close').send({
          code: 'UnsupportedMediaType',
          message: `Content-Type must be multipart/form-data (the fields of uploadFormData, then "file")${type ? `, got ${type}` : ''}`,
        });
      }
      await receiveUpload(svc, request.raw, uploadLimits);
      return reply.code(204).send();
    });

    scope.get<{ Params: { workspaceId: string; mediaId: string }; Querystring: { expires?: string; signature?: string } }>(
      '/media/:workspaceId/:mediaId',
      async (request, reply) => {
        const workspaceId = request.params.workspaceId.toLowerCase();
        const mediaId = request.params.mediaId.toLowerCase();
        if (!isUuid(workspaceId) || !isUuid(mediaId)) throw errors.notFound('media');
        verifyLink(await svc.secret(), workspaceId, mediaId, request.query, svc.clock.now());
        const row = await svc.find(workspaceId, mediaId);
        if (!row) throw errors.notFound('media');
        return sendMedia(svc, reply, row);
      },
    );
  });
}

// Types a browser would run or render as a page: served as downloads, never inline.
const ACTIVE = /^(text\/html|application\/xhtml|image\/svg|text\/xml|application\/xml|application\/javascript|text\/javascript)/i;

async function sendMedia(svc: MediaService, reply: FastifyReply, found: MediaRow): Promise<FastifyReply> {
  const row = await svc.ensureStored(found);
  if (!row) throw errors.conflict('The media has not been uploaded yet: POST the file to the uploadUrl of its presigned upload');
  const object = await svc.open(row);
  if (!object) throw errors.notFound('media');
  const filename = row.filename ? `; filename="${row.filename.replace(/["\\\r\n]/g, '_')}"` : '';
  reply
    .header('content-type', row.content_type)
    .header('content-length', String(object.size))
    .header('etag', `"${row.id}"`)
    .header('cache-control', 'private, max-age=3600')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('content-disposition', `${ACTIVE.test(row.content_type) ? 'attachment' : 'inline'}${filename}`);
  return reply.send(object.stream);
}

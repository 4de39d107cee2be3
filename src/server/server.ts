import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Principal } from '../auth/authenticate.ts';
import { channelRoutes } from '../channels/routes.ts';
import { connectorCallbackRoutes } from '../connectors/callback-routes.ts';
import { createSandboxChannels } from '../channels/sandbox-channels.ts';
import { contactRoutes } from '../contacts/contact-routes.ts';
import { identifierRoutes } from '../contacts/identifier-routes.ts';
import { listRoutes } from '../lists/list-routes.ts';
import { interactionRoutes } from '../interactions/routes.ts';
import { inboxApiRoutes, inboxPageRoutes, inboxSessionRoute } from '../inbox/routes.ts';
import { chaosRoutes } from '../sandbox/chaos-routes.ts';
import { clockRoutes } from '../sandbox/clock-routes.ts';
import { simulateRoutes } from '../sandbox/simulate-routes.ts';
import { snapshotRoutes } from '../sandbox/snapshot-routes.ts';
import { suppressionRoutes } from '../suppressions/routes.ts';
import type { AppContext } from '../context.ts';
import { batchRoutes } from '../messages/batch.ts';
import { mediaRoutes, publicMediaRoutes } from '../media/routes.ts';
import { mediaOf } from '../media/service.ts';
import { checkUrl } from '../media/url-guard.ts';
import { messageRoutes } from '../messages/routes.ts';
import { templateRoutes } from '../templates/routes.ts';
import { webhookRoutes } from '../webhooks/routes.ts';
import { organizationRoutes } from '../workspaces/routes.ts';
import { docsRoutes } from './docs.ts';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling, MAX_PATH_SEGMENT } from '../http/error-handler.ts';
import { healthRoute } from './health.ts';
import { installRequestTimeout, limitConnections, timeoutOptions } from './limits.ts';
import { logPath } from '../http/redact.ts';
import { checkRequestStrings } from '../http/validate.ts';
import { errors } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function buildServer(ctx: AppContext): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimit,
    // One log line per request costs more than the request at these rates; responses are logged
    // below at a level that depends on their status instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests arriving on kept-alive connections while closing get a Bird-shaped 503 (hook below).
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PATH_SEGMENT },
    // Router and HTTP-parser errors in Bird's shape too (http/error-handler.ts).
    frameworkErrors: frameworkErrorHandler(ctx.config.bodyLimit),
    clientErrorHandler: clientErrorHandler(ctx.log as unknown as FastifyBaseLogger),
    // Header, whole-request and keep-alive timeouts (server/limits.ts, docs/operations.md).
    ...timeoutOptions(ctx.config),
  });
  installErrorHandling(app, ctx.config.bodyLimit);
  // The API speaks JSON only: anything else is 415, not a string handed to a JSON validator.
  app.removeContentTypeParser('text/plain');
  // Many HTTP clients send `Content-Type: application/json` on every request, a DELETE included, with
  // no body: that is a request without a body, not malformed JSON. Anything non-empty is parsed by
  // Fastify's own parser (prototype-poisoning checks and all), so only emptiness is treated differently.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    parseJson(request, body as string, (err, value) => {
      if (!err) return done(null, value);
      // Fastify's parser answers a `__proto__` key with the same error as broken JSON. Well-formed
      // JSON it refused was refused for its keys: raised as secure-json-parse's own error, which the
      // error handler turns into a 400 that says so.
      try {
        JSON.parse(body as string);
      } catch {
        return done(err, undefined);
      }
      done(Object.assign(new SyntaxError('Object contains forbidden prototype property'), { statusCode: 400 }), undefined);
    });
  });
  // One rule for every string that enters, before any route reads it (http/validate.ts).
  app.addHook('preValidation', async (request) => checkRequestStrings(request));
  installRequestTimeout(app, ctx.config);
  limitConnections(app, ctx.config, ctx.log);

  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (ctx.log.isLevelEnabled(level)) {
      request.log[level]({ method: request.method, url: logPath(request.url), status, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    }
    done();
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
    if (closing) throw errors.unavailable();
  });

  healthRoute(app, ctx);
  docsRoutes(app);
  // Presigned uploads and signed media links: no access key (the signature is the credential).
  publicMediaRoutes(app, ctx);
  // Providers' callbacks: no access key (the provider's signature is the credential, checked by its connector).
  app.register(
    async (scope) =>
      connectorCallbackRoutes(scope, {
        db: ctx.db,
        log: ctx.log,
        clock: ctx.clock,
        channels: ctx.channels,
        connectors: ctx.connectors,
        checkUrl: (url) => checkUrl(url, ctx.config.mediaAllowPrivateUrls),
        media: mediaOf(ctx).forConnectors(),
        wake: () => ctx.eventsSignal.notify(),
      }),
    { prefix: '/connectors' },
  );

  // Every authenticated route: the access key, the workspace it may use, the workspace's rate limit.
  // Under /organizations/{organizationId}/workspaces/{workspaceId}, the organization must be the key's too.
  const authorize = async (request: FastifyRequest) => {
    const key = await ctx.auth.authenticate(request);
    const { workspaceId, organizationId } = request.params as { workspaceId: string; organizationId?: string };
    if (organizationId !== undefined && organizationId !== key.organizationId) throw errors.forbidden();
    const workspace = await ctx.auth.authorizeWorkspace(key, workspaceId);
    if (ctx.config.rateLimit) ctx.rateLimiter.take(workspace.id, request.method);
    request.principal = { key, workspace };
  };

  app.register(
    async (scope) => {
      scope.decorateRequest('principal', null as unknown as Principal);
      scope.addHook('onRequest', authorize);
      channelRoutes(scope, ctx);
      messageRoutes(scope, ctx);
      batchRoutes(scope, ctx);
      contactRoutes(scope, ctx);
      identifierRoutes(scope, ctx);
      listRoutes(scope, ctx);
      templateRoutes(scope, ctx);
      interactionRoutes(scope, ctx);
      simulateRoutes(scope, ctx);
      chaosRoutes(scope, ctx);
      suppressionRoutes(scope, ctx);
      webhookRoutes(scope, ctx);
      mediaRoutes(scope, ctx);
    },
    { prefix: '/workspaces/:workspaceId' },
  );
  // Bird's Notifications API paths carry the organization as well.
  app.register(
    async (scope) => {
      scope.decorateRequest('principal', null as unknown as Principal);
      scope.addHook('onRequest', authorize);
      webhookRoutes(scope, ctx);
    },
    { prefix: '/organizations/:organizationId/workspaces/:workspaceId' },
  );
  // The organization's workspaces (Bird's Accounts API); its own hook checks the key's organization.
  // A workspace created over the API gets the sandbox channels, as the starter workspace does.
  // The web inbox: its page needs no key; its reads (Aviary's own paths) take the key like the API.
  inboxPageRoutes(app);
  inboxSessionRoute(app, ctx);
  app.register(
    async (scope) => {
      scope.decorateRequest('principal', null as unknown as Principal);
      scope.addHook('onRequest', authorize);
      inboxApiRoutes(scope, ctx);
    },
    { prefix: '/inbox/api/workspaces/:workspaceId' },
  );
  // Snapshots of the whole state: not a workspace's, so under their own prefix and hook (an organization-wide key).
  app.register(async (scope) => snapshotRoutes(scope, ctx), { prefix: '/sandbox/snapshots' });
  app.register(async (scope) => clockRoutes(scope, ctx), { prefix: '/sandbox/clock' });
  app.register(async (scope) => organizationRoutes(scope, { ...ctx, seedWorkspace: createSandboxChannels }), { prefix: '/organizations/:organizationId' });
  return app;
}

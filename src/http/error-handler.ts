import type { FastifyError, FastifyInstance } from 'fastify';
import { isConnectionLost } from '../db/connection-loss.ts';
import { ApiError, errors } from '../errors.ts';

// The single place where failures become HTTP answers. Fastify's own errors (body parsing, content
// type, size) are mapped to the catalogue so that clients see one shape everywhere; a lost database
// connection is a retryable 503 (db/connection-loss.ts); anything unexpected is logged with its
// stack and answered with a bare 500 that leaks nothing.

export function toApiError(err: FastifyError | ApiError | Error, bodyLimit: number): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // (An error with a statusCode is the HTTP layer's own, e.g. a client that hung up mid-body.)
  if ((err as FastifyError).statusCode === undefined && isConnectionLost(err)) return errors.databaseUnavailable();
  const e = err as FastifyError;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? errors.unsupportedMediaType(undefined) : errors.badRequest(e.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(bodyLimit);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.badRequest('The request body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.malformedJson();
  }
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON|prototype|constructor/i.test(e.message))) return errors.malformedJson();
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.code ?? 'BadRequest', e.message);
  }
  return undefined;
}

export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err as FastifyError, bodyLimit);
    if (!api) {
      request.log.error({ err }, 'unhandled error');
      const e = errors.internal();
      return reply.code(e.statusCode).send(e.toBody());
    }
    if (api.code === 'UnsupportedMediaType') {
      const got = request.headers['content-type'];
      const e = errors.unsupportedMediaType(got);
      return reply.code(415).send(e.toBody());
    }
    if (api.headers) reply.headers(api.headers);
    return reply.code(api.statusCode).send(api.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = errors.routeNotFound(request.method, request.url.split('?')[0]);
    return reply.code(404).send(e.toBody());
  });
}

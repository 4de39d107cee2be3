import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConnectionLost } from '../db/connection-loss.ts';
import { ApiError, errors } from '../errors.ts';

// The single place where failures become HTTP answers. Fastify's own errors (body parsing, content
// type, size, the router's bad URLs), the not-found and wrong-method answers, and what Node's HTTP
// parser rejects before Fastify sees a request (headers too large, a malformed Content-Length) are
// all mapped to the catalogue, so that clients see Bird's `{code, message}` everywhere; a lost
// database connection is a retryable 503 (db/connection-loss.ts); anything unexpected is logged with
// its stack and answered with a bare 500 that leaks nothing.

/** Longest path segment the router matches (routerOptions.maxParamLength); longer ones are a 414. */
export const MAX_PATH_SEGMENT = 200;

// A 4xx Fastify raises that the switch below does not name gets a Bird-style code for its status,
// never Fastify's FST_ERR_* code.
const codeForStatus: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'RequestTimeout',
  413: 'PayloadTooLarge',
  414: 'UriTooLong',
  415: 'UnsupportedMediaType',
  431: 'RequestHeaderFieldsTooLarge',
};

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
    case 'FST_ERR_BAD_URL':
      return errors.badUrl();
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return errors.uriTooLong(MAX_PATH_SEGMENT);
  }
  // Fastify refuses keys that would poison an object's prototype (secure-json-parse): say so, rather
  // than call well-formed JSON malformed.
  if (/forbidden prototype property/i.test(e.message)) return errors.malformedJson('The request body has a key named __proto__ (or constructor.prototype), which is not accepted');
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON|prototype|constructor/i.test(e.message))) return errors.malformedJson();
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, codeForStatus[e.statusCode] ?? 'BadRequest', e.message);
  }
  return undefined;
}

function send(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply, bodyLimit: number) {
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
}

/** Fastify's `frameworkErrors` option: the router's errors (bad URL, too long a segment) before any route or hook. */
export function frameworkErrorHandler(bodyLimit: number) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => send(err, request, reply, bodyLimit);
}

/**
 * Fastify's `clientErrorHandler` option: Node's HTTP parser failed before there was a request, so
 * the answer is written on the raw socket, which is then closed (its framing can no longer be trusted).
 */
export function clientErrorHandler(log: FastifyBaseLogger) {
  return (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const api = clientErrorFor(err.code);
    log.debug({ code: err.code, status: api.statusCode }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify(api.toBody());
      socket.write(
        `HTTP/1.1 ${api.statusCode} ${STATUS_CODES[api.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

function clientErrorFor(code: string | undefined): ApiError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return errors.requestTimeout();
    case 'HPE_HEADER_OVERFLOW':
      return errors.headersTooLarge();
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return errors.malformedRequest('the Content-Length header is not a single valid length');
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return errors.malformedRequest('the chunked body is not valid');
    case 'HPE_INVALID_METHOD':
      return errors.malformedRequest('unknown HTTP method');
    default:
      return errors.malformedRequest('the HTTP request could not be parsed');
  }
}

// Fastify answers a known path with an unsupported method as "not found"; Bird's clients are better
// served by a 405 with Allow. The routes are recorded as they are added (onRoute) and matched by
// shape only (`:param` is one segment), which is all the not-found path needs.
function routeShapes(app: FastifyInstance): Array<{ method: string; pattern: RegExp }> {
  const shapes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    const source = route.url
      .replace(/\/+$/, '')
      .split('/')
      .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}/?$`);
    for (const method of [route.method].flat()) shapes.push({ method, pattern });
  });
  return shapes;
}

export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  const shapes = routeShapes(app);
  app.setErrorHandler((err, request, reply) => send(err as FastifyError, request, reply, bodyLimit));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allow = [...new Set(shapes.filter((s) => s.pattern.test(path)).map((s) => s.method))].sort();
    const e = allow.length && !allow.includes(request.method) ? errors.methodNotAllowed(request.method, path, allow) : errors.routeNotFound(request.method, path);
    if (e.headers) reply.headers(e.headers);
    return reply.code(e.statusCode).send(e.toBody());
  });
}

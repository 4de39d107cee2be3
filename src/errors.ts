// The one error catalogue. Every error Aviary answers with is an ApiError built here, and the HTTP
// layer maps it to Bird's body shape in one place (http/error-handler.ts): `{code, message}`, plus
// `details` for 422. Codes follow Bird's where Bird documents them.

export type ErrorDetails = Record<string, string[]>;

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetails,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): { code: string; message: string; details?: ErrorDetails } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export const errors = {
  badRequest: (message: string) => new ApiError(400, 'BadRequest', message),
  malformedJson: (message = 'The request body is not valid JSON') => new ApiError(400, 'BadRequest', message),
  invalidQuery: (details: ErrorDetails, message = 'One or more query parameters are invalid') =>
    new ApiError(400, 'InvalidParameters', message, details),
  unauthorized: (message = 'Access key is missing or invalid') => new ApiError(401, 'Unauthorized', message),
  forbidden: () => new ApiError(403, 'Forbidden', 'User has no access to the requested resource'),
  notFound: (what: string) => new ApiError(404, 'NotFound', `The requested resource does not exist: ${what} not found`),
  routeNotFound: (method: string, url: string) =>
    new ApiError(404, 'NotFound', `The requested resource does not exist: no route for ${method} ${url}`),
  methodNotAllowed: (method: string, url: string, allow: string[]) =>
    new ApiError(405, 'MethodNotAllowed', `Method ${method} is not allowed on ${url}; allowed: ${allow.join(', ')}`, undefined, { allow: allow.join(', ') }),
  /** A URL the router cannot decode (a bad percent-encoding such as %zz, %ff or %C0%AF, a lone %). */
  badUrl: () => new ApiError(400, 'BadRequest', 'The URL is not valid: it contains a malformed percent-encoding'),
  /** A path segment longer than the router accepts (routerOptions.maxParamLength in server/server.ts). */
  uriTooLong: (max: number) => new ApiError(414, 'UriTooLong', `A path segment of the URL is longer than ${max} characters`),
  headersTooLarge: () => new ApiError(431, 'RequestHeaderFieldsTooLarge', 'The request line and headers exceed the size the server accepts'),
  /** What Node's HTTP parser rejects before any route sees it: bad Content-Length, bad method, garbled framing. */
  malformedRequest: (what: string) => new ApiError(400, 'BadRequest', `The request is malformed: ${what}`),
  conflict: (message: string) => new ApiError(409, 'Conflict', message),
  /** Bird's answer to a contact identifier that already belongs to another contact. */
  resourceAlreadyExists: (message: string) => new ApiError(409, 'ResourceAlreadyExists', message),
  channelInactive: () => new ApiError(409, 'ChannelInactive', 'The channel is not active'),
  payloadTooLarge: (limit: number) =>
    new ApiError(413, 'PayloadTooLarge', `The request body exceeds the limit of ${limit} bytes`),
  /** A media upload whose policy is missing, tampered with, expired or not met; a bad signed media link. */
  mediaAccessDenied: (message: string) => new ApiError(403, 'AccessDenied', message),
  fileTooLarge: (limit: number) =>
    new ApiError(413, 'EntityTooLarge', `The file is larger than the ${limit} bytes the upload policy allows`),
  unsupportedMediaType: (got: string | undefined) =>
    new ApiError(415, 'UnsupportedMediaType', `Content-Type must be application/json${got ? `, got ${got}` : ''}`),
  invalidPayload: (details: ErrorDetails) =>
    new ApiError(422, 'InvalidPayload', 'One or more fields provided in the request body are malformed', details),
  rateLimited: (retryAfterSeconds: number) =>
    new ApiError(429, 'TooManyRequests', 'Rate limit exceeded; the request was not processed and is safe to retry', undefined, {
      'retry-after': String(retryAfterSeconds),
    }),
  /** Too many requests with unknown or revoked keys from one client address (auth/auth-failures.ts). */
  authFailuresLimited: (retryAfterSeconds: number) =>
    new ApiError(429, 'TooManyRequests', 'Too many requests with an unknown or revoked access key from this client; retry later', undefined, {
      'retry-after': String(retryAfterSeconds),
    }),
  /** A request (or an upload) that did not arrive in time; the connection is closed with the answer. */
  requestTimeout: (message = 'The request was not received in time') =>
    new ApiError(408, 'RequestTimeout', message, undefined, { connection: 'close' }),
  unavailable: (message = 'The server is shutting down') => new ApiError(503, 'ServiceUnavailable', message),
  /** The database connection was lost or could not be made: the request's transaction was rolled back. */
  databaseUnavailable: () =>
    new ApiError(503, 'ServiceUnavailable', 'The database is unavailable; the request was not completed and may be retried', undefined, {
      'retry-after': '1',
    }),
  internal: () => new ApiError(500, 'InternalError', 'An unexpected error occurred'),
};

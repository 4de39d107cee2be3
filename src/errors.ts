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
  invalidQuery: (details: ErrorDetails) =>
    new ApiError(400, 'InvalidParameters', 'One or more query parameters are invalid', details),
  unauthorized: (message = 'Access key is missing or invalid') => new ApiError(401, 'Unauthorized', message),
  forbidden: () => new ApiError(403, 'Forbidden', 'User has no access to the requested resource'),
  notFound: (what: string) => new ApiError(404, 'NotFound', `The requested resource does not exist: ${what} not found`),
  routeNotFound: (method: string, url: string) =>
    new ApiError(404, 'NotFound', `The requested resource does not exist: no route for ${method} ${url}`),
  conflict: (message: string) => new ApiError(409, 'Conflict', message),
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
  internal: () => new ApiError(500, 'InternalError', 'An unexpected error occurred'),
};

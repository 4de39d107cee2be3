import { ApiError, errors } from '../../errors.ts';
import type { PageRules } from '../../http/page-query.ts';
import { componentRef } from './json-schema.ts';
import type { ErrorCatalogueEntry, JsonSchema, MediaType, Parameter, Reference, Response, SecurityScheme } from './types.ts';

// What every feature area shares: authentication, the error bodies and responses (generated from the
// one error catalogue in src/errors.ts, so a new error shows up here without anyone remembering to),
// the path parameters and the helpers that keep feature modules short.

export const SECURITY_SCHEME_NAME = 'accessKey';

export const securitySchemes: Record<string, SecurityScheme> = {
  [SECURITY_SCHEME_NAME]: {
    type: 'http',
    scheme: 'AccessKey',
    description:
      'An access key in the `Authorization` header: `Authorization: AccessKey <key>` (as Bird\'s API; `Bearer <key>` is accepted too). ' +
      'Keys are created with `aviary keys create` (the first start prints one). A key belongs to an organization and may be limited to one workspace.',
  },
};

// ---------------------------------------------------------------------------------------------- errors

type Factories = typeof errors;
type Sample<K extends keyof Factories> = { args: Parameters<Factories[K]>; when: string };

// Example arguments and a plain-language "when" for each entry of the catalogue. An entry missing here
// is still documented (status and code come from calling the factory), just with a generic sentence.
const CATALOGUE_NOTES: { [K in keyof Factories]?: Sample<K> } = {
  badRequest: {
    args: ['A JSON request body is required'],
    when: 'The request cannot be read as sent: a send without a body, an empty body declared as JSON, a bad `Content-Length`.',
  },
  malformedJson: { args: [], when: 'The body is not valid JSON.' },
  invalidQuery: {
    args: [{ limit: ['must be an integer from 1 to 1000'] }],
    when: 'A query (or path) parameter is invalid, including an unreadable `pageToken` or a NUL character; `details` maps each parameter name to its problems.',
  },
  unauthorized: { args: [], when: 'No `Authorization` header, a malformed one, or an unknown or revoked access key.' },
  forbidden: { args: [], when: 'The access key belongs to another organization, or is limited to another workspace.' },
  notFound: { args: ['channel'], when: 'The workspace, or the channel, message or contact in it, does not exist.' },
  routeNotFound: { args: ['GET', '/nowhere'], when: 'No route matches the method and path.' },
  methodNotAllowed: { args: ['DELETE', '/workspaces/{workspaceId}/channels', ['GET', 'HEAD', 'POST']], when: 'The path exists but not for this method; `Allow` lists the methods it has.' },
  badUrl: { args: [], when: 'The URL has a malformed percent-encoding (`%zz`, `%ff`, an overlong UTF-8 sequence such as `%C0%AF`, a lone `%`).' },
  uriTooLong: { args: [200], when: 'A path segment is longer than 200 characters (no identifier is that long).' },
  headersTooLarge: { args: [], when: 'The request line and headers are larger than Node\'s limit (16 KiB by default).' },
  requestTimeout: { args: [], when: 'The request did not arrive completely in time; the connection is closed.' },
  malformedRequest: { args: ['the Content-Length header is not a single valid length'], when: 'The HTTP request cannot be parsed: a malformed or duplicated `Content-Length`, an unknown method, a broken chunked body. The connection is closed.' },
  conflict: { args: ['The resource was changed concurrently'], when: 'The request conflicts with the current state of the resource.' },
  resourceAlreadyExists: {
    args: ['identifier phonenumber +31612345678 already belongs to another contact'],
    when: 'A contact identifier in the request already belongs to another contact of the workspace (Bird\'s code for it).',
  },
  channelInactive: { args: [], when: 'Sending on a channel whose `status` is `inactive`.' },
  payloadTooLarge: { args: [1_048_576], when: 'The body is larger than the server\'s limit (`--body-limit`, 1 MiB by default).' },
  unsupportedMediaType: { args: ['text/plain'], when: 'A body in a media type the server does not read (including text/plain): send `application/json`.' },
  invalidPayload: {
    args: [{ '.receiver.contacts[0].identifierValue': ['must be a phone number in E.164 format, e.g. +31612345678'] }],
    when: 'The body is JSON but not a valid request; `details` maps each JSON path (leading dot, `[i]` for array items) to its problems.',
  },
  rateLimited: {
    args: [1],
    when: 'More requests per second than the workspace may make (by default Bird\'s limits: 50 GET, 500 POST/PATCH/DELETE). Nothing was done, so the request is safe to retry after `Retry-After` seconds.',
  },
  unavailable: { args: [], when: 'The server is shutting down; retry against another instance or later.' },
  databaseUnavailable: {
    args: [],
    when: 'The database was unreachable or its connection was lost mid-request (restart, failover, network): the transaction was rolled back. Retry after `Retry-After` seconds.',
  },
  internal: { args: [], when: 'An unexpected failure. The cause is logged by the server and never sent to the client.' },
};

/** Every error Aviary answers with, in catalogue order, by calling each factory of src/errors.ts. */
export function errorCatalogue(): ErrorCatalogueEntry[] {
  return Object.entries(errors).map(([name, factory]) => {
    const note = CATALOGUE_NOTES[name as keyof Factories] as { args: unknown[]; when: string } | undefined;
    const err = (factory as (...args: unknown[]) => ApiError)(...(note?.args ?? []));
    return { status: err.statusCode, code: err.code, when: note?.when ?? err.message, example: err.toBody() };
  });
}

const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'InvalidPayload',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};
const responseName = (status: number) => STATUS_NAMES[status] ?? `Error${status}`;

export const errorSchemas: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    description: 'Every error response has this body (Bird\'s `RequestError`).',
    required: ['code', 'message'],
    properties: {
      code: { type: 'string', description: 'Stable, machine-readable code, e.g. `NotFound` (see the error catalogue).' },
      message: { type: 'string', description: 'What went wrong, for humans.' },
      details: componentRef('ErrorDetails'),
    },
  },
  ValidationError: {
    type: 'object',
    description: 'The body of a 422 response (Bird\'s `ValidationError`).',
    required: ['code', 'message', 'details'],
    properties: {
      code: { const: 'InvalidPayload' },
      message: { type: 'string' },
      details: componentRef('ErrorDetails'),
    },
  },
  ErrorDetails: {
    type: 'object',
    description:
      'Problems by location: for a request body, a JSON path with a leading dot (`"."` is the body itself, `".receiver.contacts[0]"` a receiver); for query parameters, the parameter name.',
    additionalProperties: { type: 'array', items: { type: 'string' } },
    examples: [{ '.body.text.text': ['is required'], '.receiver': ['property "contact" is unsupported'] }],
  },
};

/** components.responses: one per error status in the catalogue. */
export function errorResponses(catalogue: ErrorCatalogueEntry[]): Record<string, Response> {
  const byStatus = new Map<number, ErrorCatalogueEntry[]>();
  for (const e of catalogue) byStatus.set(e.status, [...(byStatus.get(e.status) ?? []), e]);
  const out: Record<string, Response> = {};
  for (const [status, entries] of [...byStatus].sort(([a], [b]) => a - b)) {
    const byCode = new Map<string, string[]>();
    for (const e of entries) byCode.set(e.code, [...(byCode.get(e.code) ?? []), e.when]);
    const response: Response = {
      description: [...byCode].map(([code, whens]) => `- \`${code}\`: ${whens.join(' ')}`).join('\n'),
      content: {
        'application/json': { schema: componentRef(status === 422 ? 'ValidationError' : 'Error'), example: entries[0].example },
      },
    };
    if (status === 429 || status === 503) {
      response.headers = { 'Retry-After': { description: 'Seconds to wait before retrying.', required: status === 429, schema: { type: 'integer', minimum: 1 } } };
    }
    out[responseName(status)] = response;
  }
  return out;
}

/** References to the shared error responses for these statuses, keyed by status. */
export function errorRefs(...statuses: number[]): Record<string, Reference> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/${responseName(s)}` }]));
}

/** The errors any authenticated workspace route can answer with, before it does anything. */
export const AUTH_ERROR_STATUSES = [401, 403, 404, 429];
/** The errors any route that reads a JSON body can answer with. */
export const BODY_ERROR_STATUSES = [400, 413, 415, 422];

// ------------------------------------------------------------------------------------------ parameters

function pathParameter(name: string, description: string): Parameter {
  return { name, in: 'path', required: true, description, schema: { type: 'string', format: 'uuid' } };
}

export const parameters: Record<string, Parameter> = {
  workspaceId: pathParameter('workspaceId', 'The workspace. The access key must belong to its organization (and, if limited to one workspace, to this one).'),
  channelId: pathParameter('channelId', 'A channel of the workspace.'),
  messageId: pathParameter('messageId', 'A message of the workspace.'),
  contactId: pathParameter('contactId', 'A contact of the workspace.'),
  pageToken: {
    name: 'pageToken',
    in: 'query',
    description: 'The `nextPageToken` of the previous page; omit it for the first page. Pages are stable while new items are added.',
    schema: { type: 'string' },
  },
};

export const paramRef = (name: keyof typeof parameters & string): Reference => ({ $ref: `#/components/parameters/${name}` });

/**
 * `limit`, `pageToken` and `reverse` of a list, from the same rules http/page-query.ts reads them
 * with, so the reference cannot say another range than the server enforces.
 */
export function pageParameters(rules: PageRules, what: string, natural: 'newest first' | 'oldest first' | 'in key order'): (Parameter | Reference)[] {
  const other = { 'newest first': 'oldest first', 'oldest first': 'newest first', 'in key order': 'in reverse key order' }[natural];
  return [
    { name: 'limit', in: 'query', description: `${what} per page.`, schema: { type: 'integer', minimum: 1, maximum: rules.maxLimit, default: rules.defaultLimit }, example: Math.min(20, rules.maxLimit) },
    paramRef('pageToken'),
    { name: 'reverse', in: 'query', description: `${other[0].toUpperCase()}${other.slice(1)} instead of ${natural}. An empty value (\`?reverse\`) means \`true\`.`, schema: { type: 'boolean', default: false } },
  ];
}

// ------------------------------------------------------------------------------------------- helpers

/** `workspaceId` -> `WORKSPACE_ID`: the shell variable a path parameter is written as in curl examples. */
export function shellVariable(param: string): string {
  return param.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function json(schema: JsonSchema, example?: unknown): Record<string, MediaType> {
  return { 'application/json': example === undefined ? { schema } : { schema, example } };
}

export const dateTime = (description?: string): JsonSchema => ({ type: 'string', format: 'date-time', ...(description ? { description } : {}) });
export const uuid = (description?: string): JsonSchema => ({ type: 'string', format: 'uuid', ...(description ? { description } : {}) });

/** A page of items: `{results, nextPageToken}` (plus any extra properties). */
export function pageOf(itemSchema: string, description: string, extra: Record<string, JsonSchema> = {}): JsonSchema {
  return {
    type: 'object',
    description,
    required: ['results', 'nextPageToken', ...Object.keys(extra)],
    properties: {
      ...extra,
      nextPageToken: { type: ['string', 'null'], description: 'Pass as `pageToken` to get the next page; `null` on the last page.' },
      results: { type: 'array', items: componentRef(itemSchema) },
    },
  };
}

import type { ApiFeature } from './types.ts';

// The unauthenticated routes of src/server/server.ts and src/server/docs.ts: health and this documentation.

const PUBLIC = { security: [] };

export const serverFeature: ApiFeature = {
  tag: { name: 'Server', description: 'Health and documentation. These need no access key.' },
  schemas: {
    Health: {
      type: 'object',
      required: ['status', 'database', 'databaseStatus'],
      properties: {
        status: { const: 'ok' },
        database: { type: 'string', enum: ['pglite', 'postgres'], description: 'The store in use: embedded PGlite or PostgreSQL.' },
        databaseStatus: { const: 'up', description: 'The database answered a `select 1` within 2 seconds.' },
      },
    },
    HealthDown: {
      type: 'object',
      description: 'The database does not answer: an error body (`code`, `message`) with the health fields.',
      required: ['status', 'database', 'databaseStatus', 'code', 'message'],
      properties: {
        status: { const: 'unavailable' },
        database: { type: 'string', enum: ['pglite', 'postgres'] },
        databaseStatus: { const: 'down' },
        code: { const: 'ServiceUnavailable' },
        message: { type: 'string', description: 'Why the check failed, e.g. `The database does not answer: connect ECONNREFUSED 127.0.0.1:5432`.' },
      },
    },
  },
  paths: {
    '/health': {
      get: {
        operationId: 'getHealth',
        summary: 'Health check',
        description:
          'Answers 200 while the server accepts requests and its database answers; 503 while the database does not (restart, failover, network) and once the server is shutting down. For load balancers and readiness probes; a liveness probe should not restart a process for a database outage, which it rides out.',
        tags: ['Server'],
        ...PUBLIC,
        responses: {
          '200': { description: 'The server is up.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } },
          '503': {
            description: 'The database does not answer (`HealthDown`), or the server is shutting down (`Error`; every route answers so while it drains).',
            content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/HealthDown' }, { $ref: '#/components/schemas/Error' }] } } },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'OpenAPI document',
        description: 'This API as an OpenAPI 3.1 document, for code generators and API tools.',
        tags: ['Server'],
        ...PUBLIC,
        responses: { '200': { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/docs': {
      get: {
        operationId: 'getApiReference',
        summary: 'API reference',
        description: 'This API as a self-contained HTML page, generated from the OpenAPI document.',
        tags: ['Server'],
        ...PUBLIC,
        responses: { '200': { description: 'The reference page.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
  },
};

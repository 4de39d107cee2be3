import type { ApiFeature } from './types.ts';

// The unauthenticated routes of src/http/server.ts and src/http/docs.ts: health and this documentation.

const PUBLIC = { security: [] };

export const serverFeature: ApiFeature = {
  tag: { name: 'Server', description: 'Health and documentation. These need no access key.' },
  schemas: {
    Health: {
      type: 'object',
      required: ['status', 'database'],
      properties: {
        status: { const: 'ok' },
        database: { type: 'string', enum: ['pglite', 'postgres'], description: 'The store in use: embedded PGlite or PostgreSQL.' },
      },
    },
  },
  paths: {
    '/health': {
      get: {
        operationId: 'getHealth',
        summary: 'Health check',
        description: 'Answers 200 while the server accepts requests, and 503 once it is shutting down: for load balancers and orchestrators.',
        tags: ['Server'],
        ...PUBLIC,
        responses: {
          '200': { description: 'The server is up.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } },
          '503': {
            description: 'The server is shutting down; every route answers so while it drains.',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
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

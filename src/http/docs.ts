import type { FastifyInstance } from 'fastify';

// Placeholder replaced by the OpenAPI document module.
export function docsRoutes(_app: FastifyInstance): void {}

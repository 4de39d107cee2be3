import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../src/config.ts';
import { defaultMaxConnections } from '../src/server/limits.ts';

// The HTTP connection cap left by the open-file limit (docs/operations.md works the same example).

test('the default cap leaves room for every PostgreSQL connection a process may open, by role', () => {
  const base = { ...defaultConfig(), pgPoolSize: 10, webhookConcurrency: 256 };
  // PGlite: no PostgreSQL sockets.
  assert.equal(defaultMaxConnections({ ...base, databaseUrl: undefined, roles: ['api'] }, 1024), 1024 - 256);
  const url = 'postgres://x@127.0.0.1/db';
  // Both roles: pool 10, LISTEN, claims, two accept connections; the worker's webhook sockets.
  assert.equal(defaultMaxConnections({ ...base, databaseUrl: url, roles: ['api', 'worker'] }, 1024), 1024 - 14 - 256 - 256);
  assert.equal(defaultMaxConnections({ ...base, databaseUrl: url, roles: ['api'] }, 1024), 1024 - 13 - 256);
  assert.equal(defaultMaxConnections({ ...base, databaseUrl: url, roles: ['worker'] }, 1024), 1024 - 12 - 256 - 256);
  // Never below the floor, however low the limit.
  assert.ok(defaultMaxConnections({ ...base, databaseUrl: url, roles: ['api', 'worker'] }, 100) >= 32);
});

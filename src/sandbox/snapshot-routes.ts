import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { ajv, ajvDetails } from '../http/validate.ts';
import { SNAPSHOT_NAME } from './snapshots.ts';

// Snapshots of the whole emulator state, Aviary's own endpoints (docs/sandbox.md):
//   POST   /sandbox/snapshots                  {"name"}: saves everything, replacing a snapshot of that name
//   GET    /sandbox/snapshots                  lists them
//   GET    /sandbox/snapshots/{name}           one
//   POST   /sandbox/snapshots/{name}/restore   replaces everything with it: ids, keys, rules and all
//   DELETE /sandbox/snapshots/{name}
// Not under a workspace: a snapshot holds every organization and workspace. So only an
// organization-wide key may use them, and only when the operator turned them on (--snapshot-dir).

export const saveSnapshotSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', pattern: SNAPSHOT_NAME, description: 'Letters, digits, ".", "_" and "-" (at most 64); a snapshot of the same name is replaced.' } },
};
const validateSave = ajv.compile<{ name: string }>(saveSnapshotSchema);

export function snapshotRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.addHook('onRequest', async (request) => {
    const key = await ctx.auth.authenticate(request);
    if (key.workspaceId !== null) throw errors.forbidden();
  });

  app.post('/', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    if (!validateSave(request.body)) throw errors.invalidPayload(ajvDetails(validateSave.errors, request.body));
    return reply.code(201).send(await ctx.snapshots.save(request.body.name));
  });

  app.get('/', async () => ({ results: await ctx.snapshots.list(), nextPageToken: null }));

  app.get<{ Params: { name: string } }>('/:name', async (request) => ctx.snapshots.info(known(request.params.name)));

  app.post<{ Params: { name: string } }>('/:name/restore', async (request) => ctx.snapshots.restore(known(request.params.name)));

  app.delete<{ Params: { name: string } }>('/:name', async (request, reply) => {
    await ctx.snapshots.delete(known(request.params.name));
    return reply.code(204).send();
  });
}

// A name no snapshot could have is simply not there (a path parameter is not a body field).
const NAME_RE = new RegExp(SNAPSHOT_NAME);
function known(name: string): string {
  if (!NAME_RE.test(name)) throw errors.notFound('snapshot');
  return name;
}

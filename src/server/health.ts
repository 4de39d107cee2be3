import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';

// GET /health: 200 while the server accepts requests and its database answers, 503 while the
// database does not (it restarts, fails over, is unreachable) or the server shuts down. A cheap
// `select 1` with a short timeout; concurrent checks share one probe, so a load balancer polling
// hard during an outage adds one pending query, not one per poll.

const PROBE_TIMEOUT_MS = 2000;

export function healthRoute(app: FastifyInstance, ctx: AppContext): void {
  let probing: Promise<string | undefined> | undefined;
  const probe = () =>
    (probing ??= pingDatabase(ctx, PROBE_TIMEOUT_MS).finally(() => {
      probing = undefined;
    }));
  app.get('/health', async (_request, reply) => {
    const problem = await probe();
    const database = ctx.database.kind;
    if (problem === undefined) return { status: 'ok', database, databaseStatus: 'up' };
    reply.code(503).header('retry-after', '1');
    return { status: 'unavailable', database, databaseStatus: 'down', code: 'ServiceUnavailable', message: `The database does not answer: ${problem}` };
  });
}

/** Undefined when the database answered within `timeoutMs`, else what went wrong. */
async function pingDatabase(ctx: AppContext, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  const query = sql`select 1`.execute(ctx.db).then(
    () => undefined,
    (err: Error) => err.message || String(err),
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { VirtualClock } from '../virtual-clock.ts';

// The emulator's clock, Aviary's own endpoints (docs/sandbox.md#the-virtual-clock):
//   GET  /sandbox/clock                       {"mode": "real" | "virtual", "now"}
//   POST /sandbox/clock {"advanceBy": "8h"}   moves a virtual clock forward; or {"to": "<RFC 3339>"}
// The answer comes once everything due on the way has happened, in order (virtual-clock.ts), so the
// next request sees the state at the new time. Like snapshots, the clock is the whole process's, not
// a workspace's: only an organization-wide key may use it.

/** Further than this in one move is a typo, not a test (and keeps dates far inside what Date holds). */
const MAX_ADVANCE_MS = 10 * 366 * 24 * 60 * 60 * 1000;

export const moveClockSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    advanceBy: {
      oneOf: [{ type: 'string', minLength: 1, maxLength: 100 }, { type: 'integer', minimum: 0 }],
      description: 'How far to move: "8h", "90s", "2 days", "500ms", or milliseconds.',
    },
    to: { type: 'string', format: 'date-time', description: 'The moment to move to (RFC 3339); not before the clock\'s time.' },
  },
};
const validateMove = bodyValidator<{ advanceBy?: string | number; to?: string }>(moveClockSchema);

export function clockRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.addHook('onRequest', async (request) => {
    const key = await ctx.auth.authenticate(request);
    if (key.workspaceId !== null) throw errors.forbidden();
  });

  app.get('/', async () => clockJson(ctx));

  app.post('/', async (request) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const move = validateMove(request.body);
    const clock = ctx.clock;
    if (!(clock instanceof VirtualClock)) throw errors.conflict('The clock is real time: start Aviary with --clock virtual to move it');
    const now = clock.now().getTime();
    let target: number;
    if (move.advanceBy !== undefined) {
      const by = parseDuration(move.advanceBy);
      if (by === undefined || by < 0 || by > MAX_ADVANCE_MS) {
        throw errors.invalidPayload({ '.advanceBy': ['must be a duration such as "8h", "90s" or "2 days", or milliseconds, from 0 up to 10 years'] });
      }
      target = now + by;
    } else {
      target = Date.parse(move.to!);
      if (target < now) throw errors.invalidPayload({ '.to': [`must not be before the clock's time (${new Date(now).toISOString()}): the clock only moves forward`] });
      if (target - now > MAX_ADVANCE_MS) throw errors.invalidPayload({ '.to': ['must be within 10 years of the clock\'s time'] });
    }
    const moved = await clock.advanceTo(new Date(target));
    return { ...clockJson(ctx), stops: moved.stops };
  });
}

function clockJson(ctx: AppContext): { mode: 'real' | 'virtual'; now: string } {
  return { mode: ctx.clock instanceof VirtualClock ? 'virtual' : 'real', now: ctx.clock.now().toISOString() };
}

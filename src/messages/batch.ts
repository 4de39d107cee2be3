import { transaction } from '../db/after-commit.ts';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { ApiError, errors } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { uuidv7 } from '../ids.ts';
import { writeMessages, type PendingMessage } from './accept-message.ts';
import { checkSend } from './check-send.ts';
import { messageJson } from './message-json.ts';
import { activeChannel } from './routes.ts';
import type { CreateMessageRequest, ValidationDetails } from '../message-body/validate-message.ts';

// Batch send (Bird): 1-100 message requests in one call. The batch is all-or-nothing as a write (one
// transaction), but not as validation: an invalid entry becomes a stored `rejected` message with an
// 11002 failure saying what was wrong, so the caller can find every entry by batchId.

const validateEnvelope = bodyValidator<{ messageRequests: unknown[] }>({
  type: 'object',
  additionalProperties: false,
  required: ['messageRequests'],
  properties: { messageRequests: { type: 'array', minItems: 1, maxItems: 100 } },
});

export function batchRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { workspaceId: string; channelId: string } }>('/channels/:channelId/batch/messages', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const ws = request.principal.workspace.id;
    const channel = await activeChannel(ctx, ws, request.params.channelId);
    const { messageRequests } = validateEnvelope(request.body);
    const batchId = uuidv7();
    const pending: PendingMessage[] = [];
    for (const raw of messageRequests) {
      let problems: ValidationDetails;
      try {
        pending.push({ ...(await checkSend(ctx, channel, raw)), batchId });
        continue;
      } catch (err) {
        if (!(err instanceof ApiError) || !err.details) throw err;
        problems = err.details;
      }
      pending.push({
        channel,
        request: rejectedRequest(raw),
        recipients: [],
        batchId,
        rejection: { code: 11002, description: 'Invalid input', details: JSON.stringify(problems) },
      });
    }
    const rows = await transaction(ctx.db, (trx) => writeMessages(trx, ctx.outbox, pending, ctx.clock.now()));
    ctx.workSignal.notify();
    return reply.code(202).send({ batchId, results: rows.map(messageJson) });
  });
}

/** What is kept of an invalid entry: enough to recognise it, nothing that failed validation deeply. */
function rejectedRequest(raw: unknown): CreateMessageRequest {
  const r = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
  const body = obj(r.body);
  return {
    receiver: { contacts: [] },
    ...(body ? { body } : { template: obj(r.template) ?? {} }),
    ...(typeof r.reference === 'string' ? { reference: r.reference } : {}),
  } as CreateMessageRequest;
}

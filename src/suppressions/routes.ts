import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { bodyValidator } from '../http/validate.ts';
import { readPageQuery } from '../http/page-query.ts';
import { addSuppression, IDENTIFIER_KEY_PATTERN, listSuppressions, parseSuppressionToken, removeSuppression } from './store.ts';
import { singleParam, type Query } from '../http/query.ts';

// The workspace suppression list (Aviary's own API; Bird manages suppressions outside the Channels
// API). A send to a suppressed identifier ends `skipped` (dispatch/prepare.ts).
//   POST   /suppressions                                  {identifierKey, identifierValue, reason?} -> 201
//   GET    /suppressions?limit&pageToken&identifierValue&identifierKey  -> {results, nextPageToken}
//   DELETE /suppressions/{identifierKey}/{identifierValue}                -> 204, or 404

export const SUPPRESSION_PAGE = { defaultLimit: 10, maxLimit: 100 };

interface CreateSuppressionBody {
  identifierKey: string;
  identifierValue: string;
  reason?: string | null;
}

const validateCreate = bodyValidator<CreateSuppressionBody>({
  type: 'object',
  additionalProperties: false,
  required: ['identifierKey', 'identifierValue'],
  properties: {
    identifierKey: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN },
    identifierValue: { type: 'string', minLength: 1, maxLength: 320, pattern: '\\S' },
    reason: { type: ['string', 'null'], maxLength: 500 },
  },
});


export function suppressionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { workspaceId: string } }>('/suppressions', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validateCreate(request.body);
    const s = await addSuppression(ctx.db, request.principal.workspace.id, { key: body.identifierKey, value: body.identifierValue, reason: body.reason });
    return reply.code(201).send(s);
  });

  app.get<{ Params: { workspaceId: string } }>('/suppressions', async (request) => {
    const q = request.query as Query;
    const details: ErrorDetails = {};
    const one = (key: string) => singleParam(q, key, details);
    const page = readPageQuery(q, SUPPRESSION_PAGE, details, parseSuppressionToken);
    const identifierValue = one('identifierValue');
    const identifierKey = one('identifierKey');
    if (identifierKey !== undefined && !new RegExp(IDENTIFIER_KEY_PATTERN).test(identifierKey)) details.identifierKey = ['is not a valid identifier key'];
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    return listSuppressions(ctx.db, request.principal.workspace.id, {
      ...page,
      identifierKey,
      identifierValue: identifierValue || undefined,
    });
  });

  app.delete<{ Params: { workspaceId: string; identifierKey: string; identifierValue: string } }>(
    '/suppressions/:identifierKey/:identifierValue',
    async (request, reply) => {
      const { identifierKey, identifierValue } = request.params;
      const removed = await removeSuppression(ctx.db, request.principal.workspace.id, identifierKey, identifierValue);
      if (!removed) throw errors.notFound('suppression');
      return reply.code(204).send();
    },
  );
}

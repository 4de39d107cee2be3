import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/database.ts';
import { transactionWithRetry } from '../db/retry-transaction.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { encodePageToken } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import { repeatedParam, singleParam, type Query } from '../http/query.ts';
import { bodyValidator } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { joinLists } from '../lists/lists.ts';
import { applyPatch, lockNamedLists, readCreateBody, readPatchBody } from './contact-patch.ts';
import { addIdentifiers, contactJson, deleteContact, getContactRow, identifierOwners, insertContact, lockContact, selectContacts } from './contact-store.ts';
import { checkIdentifiers, identifierSchema, normalizeIdentifier } from './identifiers.ts';

// Bird's Contacts API, the contact itself (under /workspaces/{workspaceId}):
//   POST   /contacts                  create (201; 409 ResourceAlreadyExists for a taken identifier)
//   GET    /contacts                  list: limit, pageToken, reverse (and Aviary's identifierValue)
//   GET    /contacts/{id}             one (?attribute= names keys to show even when unset)
//   PATCH  /contacts/{id}             update
//   DELETE /contacts/{id}             204; the contact's messages stay as they were sent
//   POST   /contacts/search           by identifier
// Identifier paths and lists of a contact are in identifier-routes.ts.

type Params = { workspaceId: string; contactId: string };

export async function contactOr404(db: Db, workspaceId: string, id: string, wanted: string[] = []) {
  const row = isUuid(id) ? await getContactRow(db, workspaceId, id) : undefined;
  if (!row) throw errors.notFound('contact');
  return contactJson(row, wanted);
}

/** `?attribute=` values: attribute keys to show even when the contact has no value for them. */
export function wantedAttributes(request: FastifyRequest): string[] {
  return repeatedParam(request.query as Query, 'attribute').filter((a) => a !== '');
}

const validateSearch = bodyValidator<{ identifier: { key: string; value: string }; platformAddress?: string | null }>({
  type: 'object',
  additionalProperties: false,
  required: ['identifier'],
  properties: { identifier: identifierSchema(false), platformAddress: { type: ['string', 'null'], maxLength: 500 } },
});

export const CONTACT_PAGE = { defaultLimit: 10, maxLimit: 100 };

export function contactRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/contacts', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = readCreateBody(request.body);
    const ws = request.principal.workspace.id;
    const id = await transactionWithRetry(ctx.db, async (trx) => {
      await lockNamedLists(trx, ws, { listIds: body.listIds });
      const contactId = await insertContact(trx, ws, { displayName: body.displayName, attributes: body.attributes });
      await addIdentifiers(trx, ws, contactId, body.identifiers ?? []);
      await joinLists(trx, ws, contactId, body.listIds ?? []);
      return contactId;
    });
    return reply.code(201).send(await contactOr404(ctx.db, ws, id));
  });

  app.get('/contacts', async (request) => {
    const q = request.query as Query;
    const details: ErrorDetails = {};
    const page = readPageQuery(q, CONTACT_PAGE, details);
    const identifierValue = singleParam(q, 'identifierValue', details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const ws = request.principal.workspace.id;
    const where = [sql`true`];
    if (page.after) where.push(sql`c.id ${page.reverse ? sql`<` : sql`>`} ${page.after.id}`);
    if (identifierValue) {
      // Served by contact_identifiers_value; email addresses are stored lower-cased.
      const v = identifierValue.trim();
      where.push(sql`c.id in (select contact_id from contact_identifiers where workspace_id = ${ws} and identifier_value in (${v}, ${v.toLowerCase()}))`);
    }
    const rows = await selectContacts(ctx.db, ws, { where, reverse: page.reverse, limit: page.limit + 1 });
    return contactPage(rows, page.limit);
  });

  app.get<{ Params: Params }>('/contacts/:contactId', async (request) =>
    contactOr404(ctx.db, request.principal.workspace.id, request.params.contactId, wantedAttributes(request)),
  );

  app.patch<{ Params: Params }>('/contacts/:contactId', async (request) => {
    const patch = readPatchBody(request.body);
    if (patch.strategy !== undefined) throw errors.invalidPayload({ '.strategy': ['is only used when upserting by identifier'] });
    const ws = request.principal.workspace.id;
    const id = request.params.contactId;
    if (!isUuid(id)) throw errors.notFound('contact');
    await transactionWithRetry(ctx.db, async (trx) => {
      if (!(await lockContact(trx, ws, id))) throw errors.notFound('contact');
      await applyPatch(trx, ws, id, patch);
    });
    return contactOr404(ctx.db, ws, id, wantedAttributes(request));
  });

  app.delete<{ Params: Params }>('/contacts/:contactId', async (request, reply) => {
    const id = request.params.contactId;
    const ws = request.principal.workspace.id;
    const deleted = isUuid(id) && (await transactionWithRetry(ctx.db, (trx) => deleteContact(trx, ws, id)));
    if (!deleted) throw errors.notFound('contact');
    return reply.code(204).send();
  });

  app.post('/contacts/search', async (request) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const body = validateSearch(request.body);
    const details: ErrorDetails = {};
    const [identifier] = checkIdentifiers([normalizeIdentifier(body.identifier)], '.identifier', details);
    if (Object.keys(details).length) throw errors.invalidPayload(Object.fromEntries(Object.entries(details).map(([k, v]) => [k.replace('[0]', ''), v])));
    const ws = request.principal.workspace.id;
    const owner = (await identifierOwners(ctx.db, ws, [identifier])).values().next().value;
    const row = owner ? await getContactRow(ctx.db, ws, owner) : undefined;
    return { results: row ? [contactJson(row)] : [] };
  });
}

/** `{results, nextPageToken}` from `limit + 1` contacts in page order. */
export function contactPage(rows: Awaited<ReturnType<typeof selectContacts>>, limit: number) {
  const more = rows.length > limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return {
    results: rows.map((r) => contactJson(r)),
    nextPageToken: more && last ? encodePageToken({ createdAt: last.created_at, id: last.id }) : null,
  };
}

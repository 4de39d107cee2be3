import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { transactionWithRetry } from '../db/retry-transaction.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { encodePageToken } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import type { Query } from '../http/query.ts';
import { bodyValidator } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { listsOfContact } from '../lists/lists.ts';
import { readPatchBody } from './contact-patch.ts';
import { contactOr404, wantedAttributes } from './contact-routes.ts';
import { addIdentifiers, getContactRow, identifierOwners, listIdentifiers, lockContact, removeIdentifiers, type IdentifierInput } from './contact-store.ts';
import { checkIdentifiers, identifierSchema, pathIdentifier, type Identifier } from './identifiers.ts';
import { upsertByIdentifier } from './upsert.ts';

// Contacts by identifier, and a contact's identifiers and lists:
//   GET    /contacts/identifiers/{key}/{value}     the contact with this identifier
//   PATCH  /contacts/identifiers/{key}/{value}     upsert: 200 updated, 201 created (upsert.ts)
//   POST   /contacts/{id}/identifiers              add one (201)
//   GET    /contacts/{id}/identifiers              list them (paged by key, value)
//   DELETE /contacts/{id}/identifiers              remove one, named in a JSON body (204)
//   GET    /contacts/{id}/lists                    the lists the contact is in
// Identifier values in paths may be raw (`a@b.c`, `+316...`) or percent-encoded: Fastify decodes
// the segment, and a raw value decodes to itself.

type IdParams = { workspaceId: string; identifierKey: string; identifierValue: string };
type ContactParams = { workspaceId: string; contactId: string };

const validateAdd = bodyValidator<IdentifierInput>(identifierSchema(true));
const validateRemove = bodyValidator<Identifier>(identifierSchema(false));

function readPath(params: IdParams): Identifier {
  const details: ErrorDetails = {};
  const id = pathIdentifier(params.identifierKey, params.identifierValue, details);
  if (Object.keys(details).length) throw errors.invalidQuery(details);
  return id;
}

function checkedIdentifier<T extends Identifier>(raw: T): T {
  const details: ErrorDetails = {};
  const [id] = checkIdentifiers([raw], '', details);
  if (Object.keys(details).length) throw errors.invalidPayload({ '.value': details['[0].value'] });
  return id;
}

// Identifier page tokens are base64 of `["<key>","<value>"]`, the last identifier returned.
const encodeToken = (i: Identifier) => Buffer.from(JSON.stringify([i.key, i.value])).toString('base64');
/** The identifier a page token of this list names (undefined: not one of ours), for http/page-query.ts. */
function parseIdentifierToken(token: string): Identifier | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((x) => typeof x === 'string' && !x.includes('\u0000'))) return undefined;
  return { key: parsed[0], value: parsed[1] };
}

export const IDENTIFIER_PAGE = { defaultLimit: 10, maxLimit: 100 };
export const CONTACT_LISTS_PAGE = { defaultLimit: 10, maxLimit: 100 };

export function identifierRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: IdParams }>('/contacts/identifiers/:identifierKey/:identifierValue', async (request) => {
    const id = readPath(request.params);
    const ws = request.principal.workspace.id;
    const owner = (await identifierOwners(ctx.db, ws, [id])).values().next().value;
    if (!owner) throw errors.notFound('contact');
    return contactOr404(ctx.db, ws, owner, wantedAttributes(request));
  });

  app.patch<{ Params: IdParams }>('/contacts/identifiers/:identifierKey/:identifierValue', async (request, reply) => {
    const id = readPath(request.params);
    const patch = readPatchBody(request.body);
    const ws = request.principal.workspace.id;
    const r = await transactionWithRetry(ctx.db, (trx) => upsertByIdentifier(trx, ws, id, patch));
    return reply.code(r.created ? 201 : 200).send(await contactOr404(ctx.db, ws, r.contactId, wantedAttributes(request)));
  });

  app.post<{ Params: ContactParams }>('/contacts/:contactId/identifiers', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    const id = checkedIdentifier(validateAdd(request.body));
    const ws = request.principal.workspace.id;
    const contactId = request.params.contactId;
    if (!isUuid(contactId)) throw errors.notFound('contact');
    const added = await transactionWithRetry(ctx.db, async (trx) => {
      if (!(await lockContact(trx, ws, contactId))) throw errors.notFound('contact');
      await addIdentifiers(trx, ws, contactId, [id]);
      return (await listIdentifiers(trx, ws, contactId, { limit: 1, exactly: id }))[0];
    });
    return reply.code(201).send(added);
  });

  app.get<{ Params: ContactParams }>('/contacts/:contactId/identifiers', async (request) => {
    const details: ErrorDetails = {};
    const page = readPageQuery(request.query as Query, IDENTIFIER_PAGE, details, parseIdentifierToken);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const ws = request.principal.workspace.id;
    const contactId = request.params.contactId;
    const after = page.after;
    if (!isUuid(contactId) || !(await getContactRow(ctx.db, ws, contactId))) throw errors.notFound('contact');
    const rows = await listIdentifiers(ctx.db, ws, contactId, { limit: page.limit + 1, after, reverse: page.reverse });
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { results: rows, nextPageToken: more && last ? encodeToken(last) : null };
  });

  app.delete<{ Params: ContactParams }>('/contacts/:contactId/identifiers', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body {key, value} is required');
    const id = checkedIdentifier(validateRemove(request.body));
    const ws = request.principal.workspace.id;
    const contactId = request.params.contactId;
    if (!isUuid(contactId)) throw errors.notFound('contact');
    await transactionWithRetry(ctx.db, async (trx) => {
      if (!(await lockContact(trx, ws, contactId))) throw errors.notFound('contact');
      if ((await removeIdentifiers(trx, ws, contactId, [id])) === 0) throw errors.notFound('identifier');
    });
    return reply.code(204).send();
  });

  app.get<{ Params: ContactParams }>('/contacts/:contactId/lists', async (request) => {
    const details: ErrorDetails = {};
    const page = readPageQuery(request.query as Query, CONTACT_LISTS_PAGE, details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const ws = request.principal.workspace.id;
    const contactId = request.params.contactId;
    const afterId = page.after?.id;
    if (!isUuid(contactId) || !(await getContactRow(ctx.db, ws, contactId))) throw errors.notFound('contact');
    const rows = await listsOfContact(ctx.db, ws, contactId, { limit: page.limit + 1, afterId, reverse: page.reverse });
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { results: rows, nextPageToken: more && last ? encodePageToken({ createdAt: new Date(last.createdAt), id: last.id }) : null };
  });
}

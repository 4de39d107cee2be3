import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { contactPage } from '../contacts/contact-routes.ts';
import { identifierOwners, selectContacts } from '../contacts/contact-store.ts';
import { checkIdentifiers, identifierSchema, type Identifier } from '../contacts/identifiers.ts';
import type { AppContext } from '../context.ts';
import { transactionWithRetry } from '../db/retry-transaction.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { encodePageToken } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import type { Query } from '../http/query.ts';
import { bodyValidator } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { addMembers, createList, deleteList, getList, listLists, lockLists, removeMembers, updateList, type ListInput } from './lists.ts';

// Bird's contact lists (under /workspaces/{workspaceId}):
//   POST/GET /lists, GET/PATCH/DELETE /lists/{id}
//   POST/DELETE /lists/{id}/contacts  {contacts?: uuid[], identifiers?: [{key, value}]}, at most 100 in all,
//                                     -> {itemsProcessed}: how many named an existing contact
//   GET /lists/{id}/contacts          the members, paged by contact id

type Params = { workspaceId: string; listId: string };

const MAX_ITEMS = 100;
const fields = {
  name: { type: 'string', minLength: 2, maxLength: 256 },
  description: { type: ['string', 'null'], maxLength: 1024 },
  consentType: { type: ['string', 'null'], minLength: 1, maxLength: 64 },
  tags: { type: ['array', 'null'], maxItems: 100, items: { type: 'string', format: 'uuid' } },
  isProof: { type: ['boolean', 'null'] },
};
const validateCreate = bodyValidator<ListInput & { name: string }>({ type: 'object', additionalProperties: false, required: ['name'], properties: fields });
const validateUpdate = bodyValidator<ListInput>({ type: 'object', additionalProperties: false, properties: fields });
const validateMembers = bodyValidator<{ contacts?: string[]; identifiers?: Identifier[] }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    contacts: { type: 'array', maxItems: MAX_ITEMS, items: { type: 'string', format: 'uuid' } },
    identifiers: { type: 'array', maxItems: MAX_ITEMS, items: identifierSchema(false) },
  },
});

function readMembers(body: unknown): { contacts: string[]; identifiers: Identifier[] } {
  if (body === undefined) throw errors.badRequest('A JSON request body is required');
  const b = validateMembers(body);
  const details: ErrorDetails = {};
  const identifiers = checkIdentifiers(b.identifiers, '.identifiers', details);
  const contacts = b.contacts ?? [];
  if (contacts.length + identifiers.length === 0) details['.'] = ['must name at least one contact in "contacts" or "identifiers"'];
  if (contacts.length + identifiers.length > MAX_ITEMS) details['.'] = [`must name at most ${MAX_ITEMS} contacts and identifiers in all`];
  if (Object.keys(details).length) throw errors.invalidPayload(details);
  return { contacts, identifiers };
}

// Bird documents no paging for lists; a page of 100 keeps clients that never page whole for most workspaces.
export const LIST_PAGE = { defaultLimit: 100, maxLimit: 100 };
export const LIST_MEMBERS_PAGE = { defaultLimit: 10, maxLimit: 100 };

export function listRoutes(app: FastifyInstance, ctx: AppContext): void {
  const listOr404 = async (ws: string, id: string) => {
    const list = isUuid(id) ? await getList(ctx.db, ws, id) : undefined;
    if (!list) throw errors.notFound('list');
    return list;
  };

  app.post('/lists', async (request, reply) => {
    if (request.body === undefined) throw errors.badRequest('A JSON request body is required');
    return reply.code(201).send(await createList(ctx.db, request.principal.workspace.id, validateCreate(request.body)));
  });

  app.get('/lists', async (request) => {
    const details: ErrorDetails = {};
    // Bird documents no paging here; a page of 100 keeps clients that never page whole for most workspaces.
    const page = readPageQuery(request.query as Query, LIST_PAGE, details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const afterId = page.after?.id;
    const rows = await listLists(ctx.db, request.principal.workspace.id, { limit: page.limit + 1, afterId, reverse: page.reverse });
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { results: rows, nextPageToken: more && last ? encodePageToken({ createdAt: new Date(last.createdAt), id: last.id }) : null };
  });

  app.get<{ Params: Params }>('/lists/:listId', async (request) => listOr404(request.principal.workspace.id, request.params.listId));

  app.patch<{ Params: Params }>('/lists/:listId', async (request) => {
    const body = validateUpdate(request.body ?? {});
    const id = request.params.listId;
    const updated = isUuid(id) ? await updateList(ctx.db, request.principal.workspace.id, id, body) : undefined;
    if (!updated) throw errors.notFound('list');
    return updated;
  });

  app.delete<{ Params: Params }>('/lists/:listId', async (request, reply) => {
    const id = request.params.listId;
    const ws = request.principal.workspace.id;
    const deleted = isUuid(id) && (await transactionWithRetry(ctx.db, (trx) => deleteList(trx, ws, id)));
    if (!deleted) throw errors.notFound('list');
    return reply.code(204).send();
  });

  // Adding and removing: each item that names an existing contact is processed; unknown contacts and
  // identifiers are skipped (itemsProcessed says how many were not), as Bird describes it.
  const changeMembers = (add: boolean) => async (request: { params: Params; body: unknown; principal: { workspace: { id: string } } }) => {
    const items = readMembers(request.body);
    const ws = request.principal.workspace.id;
    const listId = request.params.listId;
    if (!isUuid(listId)) throw errors.notFound('list');
    return transactionWithRetry(ctx.db, async (trx) => {
      if ((await lockLists(trx, ws, [listId])).size === 0) throw errors.notFound('list');
      const owners = await identifierOwners(trx, ws, items.identifiers);
      const named = [...items.contacts, ...items.identifiers.flatMap((i) => owners.get(`${i.key}\u0000${i.value}`) ?? [])];
      const unique = [...new Set(named)];
      const existing = add ? await addMembers(trx, ws, listId, unique) : await existingContacts(trx, ws, unique);
      if (!add) await removeMembers(trx, ws, listId, unique);
      // Items count once each, as sent; two items naming one contact are both processed.
      const processed = named.filter((id) => existing.has(id)).length;
      return { itemsProcessed: processed };
    });
  };
  app.post<{ Params: Params }>('/lists/:listId/contacts', async (request, reply) => reply.code(201).send(await changeMembers(true)(request)));
  app.delete<{ Params: Params }>('/lists/:listId/contacts', async (request) => changeMembers(false)(request));

  app.get<{ Params: Params }>('/lists/:listId/contacts', async (request) => {
    const details: ErrorDetails = {};
    const page = readPageQuery(request.query as Query, LIST_MEMBERS_PAGE, details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const ws = request.principal.workspace.id;
    const listId = request.params.listId;
    await listOr404(ws, listId);
    const after = page.after ? sql`and contact_id ${page.reverse ? sql`<` : sql`>`} ${page.after.id}` : sql``;
    const dir = page.reverse ? sql`desc` : sql`asc`;
    // The page of members is taken first, on the primary key, then joined to its contacts: a fixed
    // number of index lookups at any depth (a plain join may be planned as a merge join that walks
    // the contacts from the start).
    const rows = await selectContacts(ctx.db, ws, {
      from: sql`(select contact_id from list_members where workspace_id = ${ws} and list_id = ${listId} ${after}
                 order by contact_id ${dir} limit ${page.limit + 1}) m
               join contacts c on c.workspace_id = ${ws} and c.id = m.contact_id`,
      where: [sql`true`],
      orderBy: sql`m.contact_id`,
      reverse: page.reverse,
      limit: page.limit + 1,
    });
    return contactPage(rows, page.limit);
  });
}

async function existingContacts(trx: AppContext['db'], ws: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await sql<{ id: string }>`select id from contacts where workspace_id = ${ws} and id = any(${ids}::uuid[])`.execute(trx);
  return new Set(r.rows.map((x) => x.id));
}

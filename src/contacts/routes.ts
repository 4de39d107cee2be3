import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { encodePageToken, pageOrder } from '../db/keyset-page.ts';
import { readPageQuery } from '../http/page-query.ts';
import { singleParam, type Query } from '../http/query.ts';
import type { ErrorDetails } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { getContact, listContactsWhere, type ContactJson } from './contacts.ts';

// Bird's Contacts API shape, as far as Aviary keeps contacts: identifiers and attributes.
function contactBody(c: ContactJson) {
  return {
    id: c.id,
    computedDisplayName: c.displayName ?? c.identifiers[0]?.value ?? '',
    attributes: c.attributes,
    featuredIdentifiers: c.identifiers,
    identifierCount: c.identifiers.length,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export const CONTACT_PAGE = { defaultLimit: 10, maxLimit: 100 };

export function contactRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { workspaceId: string } }>('/contacts', async (request) => {
    const q = request.query as Query;
    const details: ErrorDetails = {};
    const page = readPageQuery(q, CONTACT_PAGE, details);
    const limit = page.limit;
    const identifierValue = singleParam(q, 'identifierValue', details);
    if (Object.keys(details).length) throw errors.invalidQuery(details);
    const rows = await listContactsWhere(ctx.db, request.principal.workspace.id, {
      limit: limit + 1,
      afterId: page.after?.id,
      order: pageOrder(page, 'asc'),
      identifierValue,
    });
    const more = rows.length > limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return {
      results: rows.map(contactBody),
      nextPageToken: more && last ? encodePageToken({ createdAt: new Date(last.createdAt), id: last.id }) : null,
    };
  });

  app.get<{ Params: { workspaceId: string; contactId: string } }>('/contacts/:contactId', async (request) => {
    const id = request.params.contactId;
    const contact = isUuid(id) ? await getContact(ctx.db, request.principal.workspace.id, id) : undefined;
    if (!contact) throw errors.notFound('contact');
    return contactBody(contact);
  });
}

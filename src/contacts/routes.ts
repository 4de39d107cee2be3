import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { encodePageToken, decodePageToken } from '../http/page-token.ts';
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

export function contactRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { workspaceId: string }; Querystring: Record<string, string | undefined> }>('/contacts', async (request) => {
    const q = request.query;
    const limit = q.limit === undefined ? 10 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw errors.invalidQuery({ limit: ['must be an integer from 1 to 100'] });
    if (typeof q.pageToken === 'object' || typeof q.identifierValue === 'object') throw errors.invalidQuery({ query: ['parameters must be given once'] });
    const afterId = q.pageToken ? decodePageToken(q.pageToken).id : undefined;
    const rows = await listContactsWhere(ctx.db, request.principal.workspace.id, {
      limit: limit + 1,
      afterId,
      identifierValue: q.identifierValue,
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

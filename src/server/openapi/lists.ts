import { LIST_MEMBERS_PAGE, LIST_PAGE } from '../../lists/list-routes.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Parameter } from './types.ts';

// /workspaces/{workspaceId}/lists: src/lists/list-routes.ts, Bird's contact lists.

const listFields: Record<string, JsonSchema> = {
  name: { type: 'string', minLength: 2, maxLength: 256 },
  description: { type: ['string', 'null'], maxLength: 1024 },
  consentType: { type: ['string', 'null'], minLength: 1, maxLength: 64, description: 'As given, e.g. `single`.' },
  tags: { type: ['array', 'null'], maxItems: 100, items: uuid() },
  isProof: { type: ['boolean', 'null'] },
};

const schemas: Record<string, JsonSchema> = {
  List: {
    type: 'object',
    description: 'A list of contacts.',
    required: ['id', 'name', 'description', 'createdAt', 'updatedAt', 'contactCount', 'consentType', 'tags', 'isProof', 'counter'],
    properties: {
      id: uuid(),
      name: { type: 'string' },
      description: { type: ['string', 'null'] },
      createdAt: dateTime(),
      updatedAt: dateTime(),
      contactCount: { type: 'integer', minimum: 0 },
      consentType: { type: ['string', 'null'] },
      tags: { type: 'array', items: { type: 'string' } },
      isProof: { type: 'boolean' },
      counter: {
        type: 'object',
        required: ['count', 'updatedAt'],
        properties: { count: { type: 'integer', minimum: 0 }, updatedAt: dateTime('When the count last changed.') },
      },
    },
  },
  ListPage: pageOf('List', 'A page of lists, oldest first (newest first with `reverse=true`).'),
  CreateList: { type: 'object', additionalProperties: false, required: ['name'], properties: listFields },
  UpdateList: { type: 'object', additionalProperties: false, properties: listFields },
  ListMembers: {
    type: 'object',
    additionalProperties: false,
    description: 'Contacts by id and/or by identifier: at least 1, at most 100 in all.',
    properties: {
      contacts: { type: 'array', maxItems: 100, items: uuid() },
      identifiers: { type: 'array', maxItems: 100, items: componentRef('ContactIdentifier') },
    },
  },
  ItemsProcessed: {
    type: 'object',
    required: ['itemsProcessed'],
    properties: { itemsProcessed: { type: 'integer', minimum: 0, description: 'How many items named an existing contact; unknown contacts and identifiers are skipped.' } },
  },
};

const listId: Parameter = { name: 'listId', in: 'path', required: true, description: 'A list of the workspace.', schema: { type: 'string', format: 'uuid' } };
const list = (description: string) => ({ description, content: json(componentRef('List')) });
const membersExample = { identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }] };

export const listsFeature: ApiFeature = {
  tag: { name: 'Lists', description: 'Lists of contacts (Bird\'s Contacts API). A contact may be in any number of lists; `listIds` on the contact names them.' },
  schemas,
  workspacePaths: {
    '/lists': {
      post: {
        operationId: 'createList',
        summary: 'Create a list',
        tags: ['Lists'],
        requestBody: { required: true, content: json(componentRef('CreateList'), { name: 'Newsletter', description: 'Monthly news', consentType: 'single' }) },
        responses: { '201': list('The list.'), ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listLists',
        summary: 'List lists',
        description: 'Bird documents no paging here, so the default page is 100 lists.',
        tags: ['Lists'],
        parameters: pageParameters(LIST_PAGE, 'Lists', 'oldest first'),
        responses: { '200': { description: 'A page of lists.', content: json(componentRef('ListPage')) }, ...errorRefs(400) },
      },
    },
    '/lists/{listId}': {
      parameters: [listId],
      get: { operationId: 'getList', summary: 'Get a list', tags: ['Lists'], responses: { '200': list('The list.') } },
      patch: {
        operationId: 'updateList',
        summary: 'Update a list',
        tags: ['Lists'],
        requestBody: { required: true, content: json(componentRef('UpdateList'), { description: 'Weekly news' }) },
        responses: { '200': list('The updated list.'), ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'deleteList',
        summary: 'Delete a list',
        description: 'Deletes the list and its memberships; the contacts stay.',
        tags: ['Lists'],
        responses: { '204': { description: 'Deleted.' } },
      },
    },
    '/lists/{listId}/contacts': {
      parameters: [listId],
      post: {
        operationId: 'addListContacts',
        summary: 'Add contacts to a list',
        tags: ['Lists'],
        requestBody: { required: true, content: json(componentRef('ListMembers'), membersExample) },
        responses: { '201': { description: 'How many were processed.', content: json(componentRef('ItemsProcessed')) }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'removeListContacts',
        summary: 'Remove contacts from a list',
        tags: ['Lists'],
        requestBody: { required: true, content: json(componentRef('ListMembers'), membersExample) },
        responses: { '200': { description: 'How many were processed.', content: json(componentRef('ItemsProcessed')) }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listListContacts',
        summary: 'List a list\'s contacts',
        tags: ['Lists'],
        parameters: pageParameters(LIST_MEMBERS_PAGE, 'Contacts', 'oldest first'),
        responses: { '200': { description: 'A page of contacts, by contact id.', content: json(componentRef('ContactList')) }, ...errorRefs(400) },
      },
    },
  },
};

import { createContactSchema, patchContactSchema } from '../../contacts/contact-patch.ts';
import { IDENTIFIER_KEY_PATTERN, IDENTIFIER_VALUE_MAX, identifierSchema } from '../../contacts/identifiers.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { CONTACT_PAGE } from '../../contacts/contact-routes.ts';
import { CONTACT_LISTS_PAGE, IDENTIFIER_PAGE } from '../../contacts/identifier-routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Parameter } from './types.ts';

// /workspaces/{workspaceId}/contacts: src/contacts/contact-routes.ts and identifier-routes.ts, Bird's
// Contacts API. The request body schemas are the validators' own, so the two cannot disagree.

const identifierKey: JsonSchema = { type: 'string', pattern: IDENTIFIER_KEY_PATTERN, description: 'Kind of identifier: `phonenumber`, `emailaddress`, `telegramid`, `facebookid-<pageId>`, ... (case-insensitive, stored lower-case).' };
const identifierValue: JsonSchema = { type: 'string', minLength: 1, maxLength: IDENTIFIER_VALUE_MAX, description: 'Trimmed; email addresses lower-cased. Phone numbers must be E.164.' };

const schemas: Record<string, JsonSchema> = {
  ContactIdentifier: {
    type: 'object',
    required: ['key', 'value'],
    properties: { key: identifierKey, value: identifierValue },
  },
  ContactIdentifierDetails: {
    type: 'object',
    description: 'An identifier of a contact, as listed and added.',
    required: ['contactId', 'key', 'value', 'properties', 'createdAt'],
    properties: {
      contactId: uuid(),
      key: { type: 'string' },
      value: { type: 'string' },
      properties: { type: ['object', 'null'], description: 'What was given with the identifier, e.g. `{"countryCode": "NL"}`.' },
      createdAt: dateTime(),
    },
  },
  ContactIdentifierList: pageOf('ContactIdentifierDetails', 'A page of a contact\'s identifiers, by key then value.'),
  Contact: {
    type: 'object',
    description: 'A contact (Bird\'s Contacts API). Contacts are created through this API or by the first message sent to a new identifier; both kinds behave the same.',
    required: ['id', 'computedDisplayName', 'attributes', 'featuredIdentifiers', 'identifierCount', 'listIds', 'createdAt', 'updatedAt', 'workspaceId'],
    properties: {
      id: uuid(),
      computedDisplayName: { type: 'string', description: 'The display name; else `firstName lastName` from the attributes; else the first identifier\'s value.' },
      attributes: {
        type: 'object',
        description: 'The attributes set, plus the keys Bird derives: `displayName`, and per identifier key the array of its values (`"emailaddress": ["ann@example.com"]`). Keys asked for with `?attribute=` are present, `null` when unset.',
      },
      featuredIdentifiers: { type: 'array', maxItems: 10, items: componentRef('ContactIdentifier'), description: 'The first 10 identifiers, oldest first; all of them at `/identifiers`.' },
      identifierCount: { type: 'integer', minimum: 0 },
      listIds: { type: 'array', items: uuid(), description: 'The lists the contact is in.' },
      createdAt: dateTime(),
      updatedAt: dateTime(),
      workspaceId: uuid(),
    },
  },
  ContactList: pageOf('Contact', 'A page of contacts, oldest first (newest first with `reverse=true`).'),
  ContactSearchResults: { type: 'object', required: ['results'], properties: { results: { type: 'array', maxItems: 1, items: componentRef('Contact') } } },
  CreateContact: createContactSchema as JsonSchema,
  UpdateContact: patchContactSchema as JsonSchema,
  SearchContacts: {
    type: 'object',
    additionalProperties: false,
    required: ['identifier'],
    properties: {
      identifier: { ...(identifierSchema(false) as JsonSchema), description: 'The identifier to look for.' },
      platformAddress: { type: ['string', 'null'], maxLength: 500, description: 'Accepted for compatibility; the identifier decides.' },
    },
  },
  AddContactIdentifier: identifierSchema(true) as JsonSchema,
  RemoveContactIdentifier: identifierSchema(false) as JsonSchema,
  ChannelContactInformation: {
    type: 'object',
    description: 'What a channel knows about a contact (Bird\'s `ChannelContactInformation`).',
    additionalProperties: false,
    required: ['serviceWindowExpireAt', 'isPermanentSession', 'metadata'],
    properties: {
      serviceWindowExpireAt: {
        type: ['string', 'null'],
        format: 'date-time',
        description: 'WhatsApp: when the customer-service window closes, 24 hours after the contact last wrote in; `null` if they never did, and on other platforms.',
      },
      isPermanentSession: { type: 'boolean', description: '`true` on platforms without a service window (all but WhatsApp).' },
      metadata: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
};

const attributeParameter: Parameter = {
  name: 'attribute',
  in: 'query',
  description: 'An attribute key to include, `null` when unset; repeat for several. (All set attributes are always returned.)',
  schema: { type: 'array', items: { type: 'string' } },
  style: 'form',
  explode: true,
  example: 'company',
};
const identifierPath: Parameter[] = [
  { name: 'identifierKey', in: 'path', required: true, description: 'Kind of identifier, e.g. `emailaddress`.', schema: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN } },
  { name: 'identifierValue', in: 'path', required: true, description: 'The value, raw (`ann@example.com`, `+31612345678`) or percent-encoded.', schema: { type: 'string' } },
];
const contact = (description: string) => ({ description, content: json(componentRef('Contact')) });
const createExample = {
  displayName: 'Ann Smith',
  identifiers: [{ key: 'emailaddress', value: 'ann@example.com' }, { key: 'phonenumber', value: '+31620000000' }],
  attributes: { firstName: 'Ann', city: 'Utrecht' },
};

export const contactsFeature: ApiFeature = {
  tag: {
    name: 'Contacts',
    description:
      'Bird\'s Contacts API: the people messages go to, with identifiers (each belongs to one contact of the workspace), attributes and lists. A message sent to a new identifier creates a contact too.',
  },
  schemas,
  workspacePaths: {
    '/contacts': {
      post: {
        operationId: 'createContact',
        summary: 'Create a contact',
        description: 'An identifier that already belongs to a contact is a 409 `ResourceAlreadyExists`, and nothing is created. `attributes.displayName` sets the display name too.',
        tags: ['Contacts'],
        requestBody: { required: true, content: json(componentRef('CreateContact'), createExample) },
        responses: { '201': contact('The contact.'), ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listContacts',
        summary: 'List contacts',
        tags: ['Contacts'],
        parameters: [
          ...pageParameters(CONTACT_PAGE, 'Contacts', 'oldest first'),
          { name: 'identifierValue', in: 'query', description: 'Aviary: only the contact with this identifier value (exact; email addresses in any case).', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of contacts.', content: json(componentRef('ContactList')) }, ...errorRefs(400) },
      },
    },
    '/contacts/search': {
      post: {
        operationId: 'searchContacts',
        summary: 'Search contacts by identifier',
        tags: ['Contacts'],
        requestBody: { required: true, content: json(componentRef('SearchContacts'), { identifier: { key: 'emailaddress', value: 'ann@example.com' } }) },
        responses: { '200': { description: 'The contact with the identifier, if any.', content: json(componentRef('ContactSearchResults')) }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
    },
    '/contacts/identifiers/{identifierKey}/{identifierValue}': {
      parameters: identifierPath,
      get: {
        operationId: 'getContactByIdentifier',
        summary: 'Get a contact by identifier',
        tags: ['Contacts'],
        parameters: [attributeParameter],
        responses: { '200': contact('The contact that has the identifier.'), ...errorRefs(400) },
      },
      patch: {
        operationId: 'upsertContactByIdentifier',
        summary: 'Create or update a contact by identifier',
        description:
          'Updates the contact the identifiers name (200) or creates it (201). `strategy`: `strict_alias` (default; every identifier that exists must belong to one contact, else 409; the others are added), `first_alias` (the first that exists picks the contact; adding another contact\'s identifier is a 409), `first` (no identifier is added; a new contact gets only the path\'s). An empty body returns the existing contact unchanged.',
        tags: ['Contacts'],
        parameters: [attributeParameter],
        requestBody: { required: false, content: json(componentRef('UpdateContact'), { attributes: { city: 'Delft' }, addIdentifiers: [{ key: 'telegramid', value: '123456' }] }) },
        responses: { '200': contact('The updated contact.'), '201': contact('The new contact.'), ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
    },
    '/contacts/{contactId}': {
      parameters: [paramRef('contactId')],
      get: {
        operationId: 'getContact',
        summary: 'Get a contact',
        tags: ['Contacts'],
        parameters: [attributeParameter],
        responses: { '200': contact('The contact.') },
      },
      patch: {
        operationId: 'updateContact',
        summary: 'Update a contact',
        description: 'Attributes are merged (a `null` value is stored as `null`; `attributes: null` clears them). `listIds` replaces the lists; `addToLists`/`removeFromLists` change them.',
        tags: ['Contacts'],
        parameters: [attributeParameter],
        requestBody: { required: true, content: json(componentRef('UpdateContact'), { attributes: { city: 'Delft' }, addIdentifiers: [{ key: 'telegramid', value: '123456' }] }) },
        responses: { '200': contact('The updated contact.'), ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'deleteContact',
        summary: 'Delete a contact',
        description: 'Deletes the contact, its identifiers and list memberships. Its messages stay readable exactly as they were sent; a later send to one of its identifiers creates a new contact.',
        tags: ['Contacts'],
        responses: { '204': { description: 'Deleted.' } },
      },
    },
    '/contacts/{contactId}/identifiers': {
      parameters: [paramRef('contactId')],
      post: {
        operationId: 'addContactIdentifier',
        summary: 'Add an identifier to a contact',
        tags: ['Contacts'],
        requestBody: { required: true, content: json(componentRef('AddContactIdentifier'), { key: 'emailaddress', value: 'ann.work@example.com', properties: { isWork: true } }) },
        responses: { '201': { description: 'The identifier.', content: json(componentRef('ContactIdentifierDetails')) }, ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listContactIdentifiers',
        summary: 'List a contact\'s identifiers',
        tags: ['Contacts'],
        parameters: pageParameters(IDENTIFIER_PAGE, 'Identifiers', 'in key order'),
        responses: { '200': { description: 'A page of identifiers.', content: json(componentRef('ContactIdentifierList')) }, ...errorRefs(400) },
      },
      delete: {
        operationId: 'removeContactIdentifier',
        summary: 'Remove an identifier from a contact',
        description: 'The identifier is named in a JSON body. 404 when the contact does not have it.',
        tags: ['Contacts'],
        requestBody: { required: true, content: json(componentRef('RemoveContactIdentifier'), { key: 'emailaddress', value: 'ann.work@example.com' }) },
        responses: { '204': { description: 'Removed.' }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
    },
    '/contacts/{contactId}/lists': {
      parameters: [paramRef('contactId')],
      get: {
        operationId: 'listContactLists',
        summary: 'List the lists a contact is in',
        tags: ['Contacts'],
        parameters: pageParameters(CONTACT_LISTS_PAGE, 'Lists', 'oldest first'),
        responses: { '200': { description: 'A page of lists.', content: json(componentRef('ListPage')) }, ...errorRefs(400) },
      },
    },
    '/channels/{channelId}/contacts/{contactId}': {
      parameters: [paramRef('channelId'), paramRef('contactId')],
      get: {
        operationId: 'getChannelContactInformation',
        summary: 'Get channel details for a contact',
        description: 'Whether the channel may send the contact free-form messages now: the WhatsApp customer-service window.',
        tags: ['Contacts'],
        responses: { '200': { description: 'The channel\'s view of the contact.', content: json(componentRef('ChannelContactInformation')) } },
      },
    },
  },
};

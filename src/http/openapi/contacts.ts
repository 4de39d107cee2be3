import { dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { CONTACT_PAGE } from '../../contacts/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// /workspaces/{workspaceId}/contacts: src/contacts/routes.ts. Contacts are created by sending to a new
// identifier; the API reads them, in the shape of Bird's Contacts API.

const schemas: Record<string, JsonSchema> = {
  ContactIdentifier: {
    type: 'object',
    required: ['key', 'value'],
    properties: {
      key: { type: 'string', description: 'Kind of identifier, e.g. `phonenumber`, `emailaddress`.' },
      value: { type: 'string' },
    },
  },
  Contact: {
    type: 'object',
    description: 'A contact: everything the workspace has sent to under one or more identifiers.',
    required: ['id', 'computedDisplayName', 'attributes', 'featuredIdentifiers', 'identifierCount', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid(),
      computedDisplayName: { type: 'string', description: 'The display name, else the first identifier\'s value.' },
      attributes: { type: 'object' },
      featuredIdentifiers: { type: 'array', items: componentRef('ContactIdentifier'), description: 'All identifiers, oldest first.' },
      identifierCount: { type: 'integer', minimum: 0 },
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  ContactList: pageOf('Contact', 'A page of contacts, oldest first.'),
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

export const contactsFeature: ApiFeature = {
  tag: { name: 'Contacts', description: 'The people messages went to. A contact is created the first time a message is sent to a new identifier.' },
  schemas,
  workspacePaths: {
    '/contacts': {
      get: {
        operationId: 'listContacts',
        summary: 'List contacts',
        tags: ['Contacts'],
        parameters: [
          ...pageParameters(CONTACT_PAGE, 'Contacts', 'oldest first'),
          { name: 'identifierValue', in: 'query', description: 'Only the contact with this identifier value (exact match, e.g. `+31612345678`).', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'A page of contacts.', content: json(componentRef('ContactList')) },
          ...errorRefs(400),
        },
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
    '/contacts/{contactId}': {
      parameters: [paramRef('contactId')],
      get: {
        operationId: 'getContact',
        summary: 'Get a contact',
        tags: ['Contacts'],
        responses: { '200': { description: 'The contact.', content: json(componentRef('Contact')) } },
      },
    },
  },
};

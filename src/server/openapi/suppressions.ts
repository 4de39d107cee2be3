import { IDENTIFIER_KEY_PATTERN } from '../../suppressions/store.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef } from './common.ts';
import { SUPPRESSION_PAGE } from '../../suppressions/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Parameter } from './types.ts';

// /workspaces/{workspaceId}/suppressions: src/suppressions/routes.ts. Aviary's own API (Bird manages
// suppressions outside the Channels API).

const identifierKey: JsonSchema = { type: 'string', pattern: IDENTIFIER_KEY_PATTERN, description: 'Kind of identifier: `phonenumber`, `emailaddress`, `telegramid`, ...' };

const schemas: Record<string, JsonSchema> = {
  Suppression: {
    type: 'object',
    description: 'An identifier that must not be messaged.',
    required: ['identifierKey', 'identifierValue', 'reason', 'createdAt'],
    properties: {
      identifierKey: { type: 'string' },
      identifierValue: { type: 'string', description: 'Normalized as receivers are: trimmed, email addresses lower-cased.' },
      reason: { type: ['string', 'null'], description: 'Why, as given; `unsubscribe-request` when a contact unsubscribed.' },
      createdAt: dateTime(),
    },
  },
  SuppressionList: pageOf('Suppression', 'A page of suppressions, newest first.'),
  CreateSuppression: {
    type: 'object',
    additionalProperties: false,
    required: ['identifierKey', 'identifierValue'],
    properties: {
      identifierKey,
      identifierValue: { type: 'string', minLength: 1, maxLength: 320, pattern: '\\S' },
      reason: { type: ['string', 'null'], maxLength: 500 },
    },
  },
};

const pathParameter = (name: string, description: string): Parameter => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

export const suppressionsFeature: ApiFeature = {
  tag: {
    name: 'Suppressions',
    description:
      'The workspace suppression list: identifiers that must not be messaged. A message to a suppressed receiver ends `skipped` instead of being sent. An `unsubscribe-request` interaction adds the contact\'s identifier.',
  },
  schemas,
  workspacePaths: {
    '/suppressions': {
      post: {
        operationId: 'createSuppression',
        summary: 'Suppress an identifier',
        description: 'Adds the identifier to the list. Adding one that is already there changes nothing and answers the existing entry.',
        tags: ['Suppressions'],
        requestBody: {
          required: true,
          content: json(componentRef('CreateSuppression'), { identifierKey: 'phonenumber', identifierValue: '+31612345678', reason: 'Asked not to be contacted' }),
        },
        responses: { '201': { description: 'The suppression.', content: json(componentRef('Suppression')) }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listSuppressions',
        summary: 'List suppressions',
        tags: ['Suppressions'],
        parameters: [
          ...pageParameters(SUPPRESSION_PAGE, 'Suppressions', 'newest first'),
          { name: 'identifierKey', in: 'query', description: 'Only this kind of identifier.', schema: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN } },
          { name: 'identifierValue', in: 'query', description: 'Only this identifier value (email addresses in any case).', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'A page of suppressions.', content: json(componentRef('SuppressionList')) }, ...errorRefs(400) },
      },
    },
    '/suppressions/{identifierKey}/{identifierValue}': {
      parameters: [pathParameter('identifierKey', 'Kind of identifier.'), pathParameter('identifierValue', 'The identifier value, URL-encoded.')],
      delete: {
        operationId: 'deleteSuppression',
        summary: 'Remove a suppression',
        description: 'Takes the identifier off the list, so it can be messaged again.',
        tags: ['Suppressions'],
        responses: { '204': { description: 'The suppression was removed.' } },
      },
    },
  },
};

import { INTERACTION_TYPES } from '../../interactions/rules.ts';
import { IDENTIFIER_KEY_PATTERN } from '../../suppressions/store.ts';
import { BODY_ERROR_STATUSES, errorRefs, json, paramRef } from './common.ts';
import { interactionPlatforms } from './interactions.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// The simulation endpoints of sandbox channels: src/sandbox/simulate-routes.ts. Aviary's own; a real
// provider reports these events itself.

const reactionAction: JsonSchema = { type: 'string', enum: ['react', 'unreact'] };

const schemas: Record<string, JsonSchema> = {
  SimulateInbound: {
    type: 'object',
    additionalProperties: false,
    required: ['contact', 'body'],
    properties: {
      contact: {
        type: 'object',
        additionalProperties: false,
        required: ['identifierValue'],
        description: 'Who writes in. Becomes (or finds) a contact of the workspace.',
        properties: {
          identifierValue: { type: 'string', minLength: 1, maxLength: 320, pattern: '\\S' },
          identifierKey: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN, description: 'Default: the platform\'s kind of identifier.' },
        },
      },
      body: componentRef('Body'),
      replyTo: componentRef('ReplyTo'),
      meta: componentRef('Meta'),
    },
  },
  SimulateInteraction: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: { type: 'string', enum: [...INTERACTION_TYPES], description: 'Refused (422) on a platform that never reports it.' },
      contact: {
        type: 'object',
        additionalProperties: false,
        required: ['identifierValue'],
        description: 'Which receiver interacts; default the first.',
        properties: { identifierValue: { type: 'string', minLength: 1, maxLength: 320 } },
      },
      emoji: { type: 'string', minLength: 1, maxLength: 32, description: '`reaction` only: the emoji; required to react.' },
      action: {
        description: '`reaction` only: `react` (default) or `unreact`. Unreacting without an `emoji` takes back the contact\'s last reaction.',
        anyOf: [reactionAction, { type: 'object', additionalProperties: false, required: ['type'], properties: { type: reactionAction } }],
      },
      item: { type: 'integer', minimum: 0, maximum: 10_000, description: '`clicked` only: index of the clicked action (0-based).' },
      card: { type: 'integer', minimum: 0, maximum: 10_000, description: '`clicked` only: index of the card (carousel item, list section) the action is on.' },
      payload: { type: 'string', minLength: 1, maxLength: 1024, description: '`clicked` only: the payload of the clicked item (Apple Messages).' },
      link: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        description: '`clicked` only: the tracked link that was clicked (email).',
        properties: { url: { type: 'string', minLength: 1, maxLength: 2048, format: 'uri' }, name: { type: 'string', maxLength: 1024 } },
      },
      time: {
        type: 'object',
        additionalProperties: false,
        required: ['startTime', 'duration'],
        description: '`clicked` only: the slot picked in a time picker (Apple Messages).',
        properties: { startTime: { type: 'string', format: 'date-time' }, duration: { type: 'integer', minimum: 0, maximum: 31_536_000 } },
      },
    },
  },
};

const SANDBOX_ONLY = 'Only on channels whose connector is `sandbox` (409 `Conflict` otherwise).';

export const sandboxFeature: ApiFeature = {
  tag: {
    name: 'Sandbox',
    description: 'Aviary\'s own endpoints for driving a sandbox channel as its contacts would: writing in, and interacting with messages. Real providers report these events themselves.',
  },
  schemas,
  workspacePaths: {
    '/channels/{channelId}/sandbox/inbound': {
      parameters: [paramRef('channelId')],
      post: {
        operationId: 'simulateInboundMessage',
        summary: 'Simulate an incoming message',
        description: `A contact writes to the channel: stores an incoming message, as a provider would report it. ${SANDBOX_ONLY} The channel must be \`active\`.`,
        tags: ['Sandbox'],
        requestBody: {
          required: true,
          content: json(componentRef('SimulateInbound'), { contact: { identifierValue: '+31612345678' }, body: { type: 'text', text: { text: 'Where is my order?' } } }),
        },
        responses: { '201': { description: 'The incoming message.', content: json(componentRef('Message')) }, ...errorRefs(...BODY_ERROR_STATUSES, 409) },
      },
    },
    '/channels/{channelId}/messages/{messageId}/sandbox/interactions': {
      parameters: [paramRef('channelId'), paramRef('messageId')],
      post: {
        operationId: 'simulateInteraction',
        summary: 'Simulate an interaction',
        description:
          `A receiver interacts with an outgoing message that was \`sent\` or \`delivered\` (409 otherwise). ${SANDBOX_ONLY} ` +
          'An `unsubscribe-request` also suppresses the receiver; a WhatsApp button click also stores the incoming message it produces, whose id is in the `X-Aviary-Inbound-Message-Id` header.\n\n' +
          `Types by platform:\n\n${interactionPlatforms}`,
        tags: ['Sandbox'],
        requestBody: { required: true, content: json(componentRef('SimulateInteraction'), { type: 'read' }) },
        responses: {
          '201': {
            description: 'The interaction.',
            headers: {
              'X-Aviary-Inbound-Message-Id': { description: 'For a WhatsApp button click: the incoming message it produced.', schema: { type: 'string', format: 'uuid' } },
            },
            content: json(componentRef('Interaction')),
          },
          ...errorRefs(...BODY_ERROR_STATUSES, 409),
        },
      },
    },
  },
};

import { INTERACTION_PLATFORMS, INTERACTION_TYPES } from '../../interactions/rules.ts';
import { dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { INTERACTION_PAGE } from '../../interactions/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// GET .../messages/{messageId}/interactions: src/interactions/routes.ts. Interactions are recorded by
// providers; on sandbox channels, by the simulation endpoints (sandbox.ts).

export const interactionPlatforms = INTERACTION_TYPES.map(
  (type) => `- \`${type}\`: ${INTERACTION_PLATFORMS[type].length ? INTERACTION_PLATFORMS[type].map((p) => `\`${p}\``).join(', ') : 'no platform'}`,
).join('\n');

const schemas: Record<string, JsonSchema> = {
  Interaction: {
    type: 'object',
    description: 'Something a receiver did with an outgoing message: read, opened, clicked, reacted, ... (Bird\'s interaction object).',
    required: ['id', 'type', 'createdAt', 'messageId', 'channelId', 'platformId', 'messageReference', 'messagePartsCount', 'messageTags', 'receiver'],
    properties: {
      id: uuid(),
      type: { type: 'string', enum: [...INTERACTION_TYPES] },
      createdAt: dateTime(),
      messageId: uuid(),
      channelId: uuid(),
      platformId: { type: 'string' },
      messageReference: { type: 'string', description: 'The provider\'s reference of the message; empty when it has none.' },
      messagePartsCount: { type: 'integer', minimum: 0 },
      messageTags: { type: ['array', 'null'], items: { type: 'string' } },
      receiver: componentRef('MessageContacts'),
      details: { type: 'string', description: 'What was clicked, e.g. `item_1_clicked` or `card_0_item_1_clicked`.' },
      metadata: { type: 'object', description: 'Per type: `reaction` {emoji, action}, a clicked `button` or `link`, ...' },
    },
  },
  InteractionList: pageOf('Interaction', 'A page of interactions, oldest first.'),
};

export const interactionsFeature: ApiFeature = {
  tag: {
    name: 'Interactions',
    description: `What receivers did with outgoing messages. Each type is reported on these platforms only:\n\n${interactionPlatforms}`,
  },
  schemas,
  workspacePaths: {
    '/channels/{channelId}/messages/{messageId}/interactions': {
      parameters: [paramRef('channelId'), paramRef('messageId')],
      get: {
        operationId: 'listMessageInteractions',
        summary: 'List a message\'s interactions',
        description: 'Bird documents no parameters here, so by default the page is the largest one; `limit` and `pageToken` page as on the other lists.',
        tags: ['Interactions'],
        parameters: [
          ...pageParameters(INTERACTION_PAGE, 'Interactions', 'oldest first'),
        ],
        responses: { '200': { description: 'A page of interactions.', content: json(componentRef('InteractionList')) }, ...errorRefs(400) },
      },
    },
  },
};

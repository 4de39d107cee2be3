import { simulateInboundSchema, simulateInteractionSchema } from '../../sandbox/simulate-routes.ts';
import { BODY_ERROR_STATUSES, errorRefs, json, paramRef } from './common.ts';
import { interactionPlatforms } from './interactions.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// The simulation endpoints of sandbox channels: src/sandbox/simulate-routes.ts. Aviary's own; a real
// provider reports these events itself.

// The request schemas are the route's own (written once, there), with Bird's definitions as components.
const schemas: Record<string, JsonSchema> = {
  SimulateInbound: simulateInboundSchema((name) => componentRef(name)) as JsonSchema,
  SimulateInteraction: simulateInteractionSchema as JsonSchema,
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

import { errorRefs, paramRef } from './common.ts';
import type { ApiFeature, Operation } from './types.ts';

// Providers' HTTP callbacks (connectors/callback-routes.ts, docs/connectors.md). Aviary's own paths:
// called by a provider, not by a Bird client, so they take no access key; the connector checks the
// provider's own signature over the raw body.

const tags = ['Connectors'];
const parameters = [
  { name: 'type', in: 'path' as const, required: true, description: 'The connector type of the channel (e.g. `sandbox`).', schema: { type: 'string' } },
  paramRef('workspaceId'),
  paramRef('channelId'),
  { name: 'callback', in: 'path' as const, required: true, description: 'Which callback of the connector (e.g. `events`).', schema: { type: 'string' } },
];
const op = (method: 'get' | 'post'): Operation => ({
  operationId: method === 'get' ? 'verifyConnectorCallback' : 'receiveConnectorCallback',
  summary: method === 'get' ? 'A provider verifies its callback URL' : 'A provider reports (inbound messages, statuses)',
  description:
    'The body is read raw, whatever its content type, and handed to the channel\'s connector, which checks the provider\'s signature before anything is stored. The events it returns are committed before the answer is sent. The answer (status, headers, body) is the connector\'s. The sandbox plays a provider here: `POST .../events` signed with `X-Sandbox-Signature: sha256=<HMAC-SHA256 of the body>` under the channel\'s `callbackSecret`.',
  tags,
  security: [],
  parameters,
  ...(method === 'post' ? { requestBody: { required: false, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } } } : {}),
  responses: {
    '200': { description: 'Accepted by the connector (its own answer).' },
    '400': { description: 'The connector could not read the callback.' },
    '401': { description: 'The provider\'s signature is missing or wrong: nothing was stored.' },
    ...errorRefs(404, 409),
  },
});

export const connectorsFeature: ApiFeature = {
  tag: { name: 'Connectors', description: 'Providers\' HTTP callbacks into Aviary (docs/connectors.md).' },
  schemas: {},
  paths: { '/connectors/{type}/{workspaceId}/{channelId}/{callback}': { get: op('get'), post: op('post') } },
};

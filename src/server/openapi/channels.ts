import { PLATFORM_NAMES, PLATFORMS } from '../../channels/platforms.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { CHANNEL_PAGE } from '../../channels/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// /workspaces/{workspaceId}/channels: src/channels/routes.ts. The request schemas mirror that file's
// validators (which it keeps private); test/openapi.test.ts sends the examples below to a live server
// and checks the answers against these schemas.

const platformList = PLATFORM_NAMES.map((p) => `\`${p}\` (${PLATFORMS[p].label}, platformId \`${PLATFORMS[p].platformId}\`)`).join(', ');

const editable: Record<string, JsonSchema> = {
  name: { type: 'string', minLength: 1, maxLength: 255, description: 'Display name.' },
  status: {
    type: 'string',
    enum: ['active', 'inactive'],
    description: 'Only `active` channels send; sending on an `inactive` one answers 409 `ChannelInactive`. Default `active`.',
  },
  identifier: {
    type: ['string', 'null'],
    maxLength: 255,
    description: 'The sender identifier messages go out from (a phone number, email address, ...), used when a send names no `sender`.',
  },
  connector: {
    type: 'object',
    additionalProperties: false,
    description: 'How the channel reaches its platform.',
    properties: {
      type: {
        type: 'string',
        pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
        description: 'Connector kind. Default `sandbox`: messages are accepted and stored but not delivered anywhere.',
      },
      config: {
        type: 'object',
        description:
          'Connector settings, including credentials. Write-only for secrets: any key that looks like one (`password`, `token`, `apiKey`, `secret`, ...) is answered as `"********"`. On update the object is merged into the stored one, so a secret need not be sent again.',
      },
    },
  },
  settings: { type: 'object', description: 'Free-form channel settings, stored and returned as given.' },
};

const schemas: Record<string, JsonSchema> = {
  Channel: {
    type: 'object',
    description: 'A channel: one sender on one platform, through one connector.',
    required: ['id', 'workspaceId', 'name', 'platform', 'platformId', 'status', 'identifier', 'connector', 'settings', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid(),
      workspaceId: uuid(),
      name: { type: 'string' },
      platform: { type: 'string', enum: PLATFORM_NAMES, description: `Aviary's short platform name: ${platformList}.` },
      platformId: { type: 'string', enum: PLATFORM_NAMES.map((p) => PLATFORMS[p].platformId), description: 'The platform as Bird names it.' },
      status: { type: 'string', enum: ['active', 'inactive'] },
      identifier: { type: ['string', 'null'], description: 'Default sender identifier.' },
      connector: {
        type: 'object',
        required: ['id', 'type', 'config'],
        properties: {
          id: uuid('The connector id, reported as `sender.connector.id` of the channel\'s messages.'),
          type: { type: 'string' },
          config: { type: 'object', description: 'Connector settings with secrets replaced by `"********"`.' },
        },
      },
      settings: { type: 'object' },
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  ChannelList: pageOf('Channel', 'All channels of the workspace, oldest first, in one page (`nextPageToken` is always `null`).'),
  CreateChannel: {
    type: 'object',
    description: 'A new channel. Give `platform` or `platformId` (or both, if they agree).',
    additionalProperties: false,
    required: ['name'],
    anyOf: [{ required: ['platform'] }, { required: ['platformId'] }],
    properties: {
      ...editable,
      platform: { type: 'string', enum: PLATFORM_NAMES, description: `The platform by Aviary's name: ${platformList}.` },
      platformId: { type: 'string', enum: PLATFORM_NAMES.map((p) => PLATFORMS[p].platformId), description: 'The platform by Bird\'s name.' },
    },
  },
  UpdateChannel: {
    type: 'object',
    description: 'The fields to change; at least one. The platform of a channel cannot change.',
    additionalProperties: false,
    minProperties: 1,
    properties: editable,
  },
};

const channelResponse = (description: string) => ({ description, content: json(componentRef('Channel')) });

export const channelsFeature: ApiFeature = {
  tag: { name: 'Channels', description: 'A channel is one way of sending: a platform (SMS, WhatsApp, email, ...), a sender identifier and a connector. Bootstrap creates one sandbox channel per platform.' },
  schemas,
  workspacePaths: {
    '/channels': {
      post: {
        operationId: 'createChannel',
        summary: 'Create a channel',
        tags: ['Channels'],
        requestBody: {
          required: true,
          content: json(componentRef('CreateChannel'), {
            name: 'Support SMS',
            platform: 'sms',
            identifier: '+15550001111',
            connector: { type: 'sandbox', config: {} },
          }),
        },
        responses: { '201': channelResponse('The channel was created.'), ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listChannels',
        summary: 'List channels',
        tags: ['Channels'],
        parameters: [
          ...pageParameters(CHANNEL_PAGE, 'Channels', 'oldest first'),
          { name: 'platform', in: 'query', description: `Only channels of this platform, by Aviary name (${PLATFORM_NAMES.map((p) => `\`${p}\``).join(', ')}) or Bird platformId.`, schema: { type: 'string' } },
          { name: 'status', in: 'query', description: 'Only active or only inactive channels.', schema: { type: 'string', enum: ['active', 'inactive'] } },
        ],
        responses: { '200': { description: 'A page of channels, oldest first unless `reverse`.', content: json(componentRef('ChannelList')) }, ...errorRefs(400) },
      },
    },
    '/channels/{channelId}': {
      parameters: [paramRef('channelId')],
      get: {
        operationId: 'getChannel',
        summary: 'Get a channel',
        tags: ['Channels'],
        responses: { '200': channelResponse('The channel.') },
      },
      patch: {
        operationId: 'updateChannel',
        summary: 'Update a channel',
        description: 'Changes the given fields only. `connector.config` is merged into the stored config.',
        tags: ['Channels'],
        requestBody: { required: true, content: json(componentRef('UpdateChannel'), { status: 'inactive' }) },
        responses: { '200': channelResponse('The updated channel.'), ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'deleteChannel',
        summary: 'Delete a channel',
        description: 'Deletes the channel. Its messages stay readable through the workspace-wide message endpoints.',
        tags: ['Channels'],
        responses: { '204': { description: 'The channel was deleted.' } },
      },
    },
  },
};

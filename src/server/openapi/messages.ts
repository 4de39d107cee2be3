import { PLATFORM_NAMES, PLATFORMS } from '../../channels/platforms.ts';
import { DEFAULT_VALIDITY_SECONDS } from '../../messages/accept-message.ts';
import { createMessageSchema } from '../../message-body/create-message-schema.ts';
import { MAX_SCHEDULE_AHEAD_MS } from '../../message-body/validate-message.ts';
import { MAX_SMS_RECEIVERS } from '../../messages/platform-rules.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { MESSAGE_PAGE } from '../../messages/list-messages.ts';
import { MESSAGE_STATUSES } from '../../messages/lifecycle.ts';
import { componentRef, describeProperties, nullable, validatorSchemaToComponents } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Operation, Parameter, Reference } from './types.ts';

// Messages: src/messages/routes.ts (send, get, cancel), src/messages/batch.ts (batch send) and
// src/messages/list-messages.ts (the list filters).
// The send body is Aviary's own validator schema (src/message-body/create-message-schema.ts), converted to
// OpenAPI 3.1 components rather than copied, so the document cannot drift from what is enforced.

const MAX_SCHEDULE_DAYS = MAX_SCHEDULE_AHEAD_MS / 86_400_000;

const identifiers = PLATFORM_NAMES.map((p) => `\`${p}\`: \`${PLATFORMS[p].identifierKey}\``).join(', ');


const createMessage = validatorSchemaToComponents(createMessageSchema, 'CreateMessage');
// The validator schema carries no descriptions (Bird's reference has them); the top level gets short ones here.
createMessage.CreateMessage = describeProperties(createMessage.CreateMessage, {
  sender: 'Overrides the channel\'s sender identifier (and annotations) for this message.',
  receiver:
    'Who the message goes to: `contacts`, each named by `identifierValue` (with `identifierKey`, default the platform\'s), `identifiers`, an existing contact `id`, or `platformAddress`. Exactly one contact, except on email (`type` to/cc/bcc).',
  reference: 'Your own reference for the message, returned with it.',
  template: 'A template to send (`projectId`, `version`, `locale`, `parameters`), instead of a `body`.',
  meta: 'Extra information: email subject and headers (`meta.email`), navigator, flow and campaign references.',
  replyTo: 'The message this one replies to.',
  body: 'The content, by `type`: `text`, `html` (email only), `image`, `file`, `gif`, `location`, `carousel`, `list`, `section` or `authentication`.',
  notification: 'Where status updates of this message are to be reported (`url`).',
  capFrequency: 'Apply the platform\'s frequency capping to this message (Bird option, stored with the message).',
  enableLinkTracking: 'Add tracking parameters to links (Bird option, stored with the message).',
  ignoreQuietHours: 'Send even during quiet hours (Bird option, stored with the message).',
  ignoreGlobalHoldout: 'Skip the global holdout check, for transactional messages (Bird option, stored with the message).',
  tags: 'Up to 10 tags for finding the message again (the `tag` filter of the list endpoints). Stored lower-cased.',
  shortLinks: 'Shorten the links of the message on this `domain`.',
  scheduledFor: `Send at this time (RFC 3339), at most ${MAX_SCHEDULE_DAYS} days ahead.`,
  validity: `Seconds the message may wait to be sent before it expires; default ${DEFAULT_VALIDITY_SECONDS} (${DEFAULT_VALIDITY_SECONDS / 3600} hours).`,
});

const schemas: Record<string, JsonSchema> = {
  ...createMessage,
  MessageConnector: {
    type: 'object',
    title: 'ChannelConnector',
    description: 'The channel\'s side of a message: the sender of an outgoing message, the receiver of an incoming one.',
    required: ['connector'],
    properties: {
      connector: {
        type: 'object',
        required: ['id'],
        properties: {
          id: uuid('The channel\'s connector (`connector.id` of the channel).'),
          identifierValue: { type: 'string', description: 'The sender identifier used: the request\'s `sender`, else the channel\'s `identifier`.' },
          annotations: componentRef('MessageAnnotations'),
        },
      },
    },
  },
  MessageContact: {
    type: 'object',
    title: 'ChannelContact',
    description: 'A contact as the sender of an incoming message.',
    required: ['contact'],
    properties: { contact: componentRef('MessageParty') },
  },
  MessageContacts: {
    type: 'object',
    title: 'ChannelContacts',
    description: 'The receivers of an outgoing message, each resolved to a contact of the workspace.',
    required: ['contacts'],
    properties: { contacts: { type: 'array', items: componentRef('MessageParty') } },
  },
  MessageParty: {
    type: 'object',
    required: ['id', 'identifierKey', 'identifierValue'],
    properties: {
      id: uuid('The contact (see the Contacts endpoints). Created on first send to a new identifier.'),
      identifierKey: { type: 'string', description: `Kind of identifier; by default the channel platform's: ${identifiers}.` },
      identifierValue: { type: 'string', description: 'Normalized: trimmed, email addresses lower-cased.' },
      type: { type: 'string', enum: ['to', 'cc', 'bcc'] },
      countryCode: { type: 'string', description: 'ISO 3166-1 alpha-2 country of a phone number.' },
      platformAddress: { type: 'string' },
      platformAddressSelector: { type: 'string' },
    },
  },
  MessageStatus: {
    type: 'string',
    enum: MESSAGE_STATUSES,
    description: 'Bird\'s message lifecycle. A send answers with `accepted`.',
  },
  MessageFailure: nullable({
    type: 'object',
    description: 'Why a message failed, when it did.',
    properties: {
      code: { type: 'integer' },
      description: { type: 'string' },
      source: { type: 'object', properties: { code: { type: 'string' }, name: { type: 'string', description: 'The step that failed, e.g. `pre-processing`.' } } },
    },
  }),
  Message: {
    type: 'object',
    title: 'ChannelMessage',
    description: 'A message as Bird\'s Channels API returns it. Optional fields are omitted rather than sent as `null`.',
    required: ['id', 'channelId', 'sender', 'receiver', 'status', 'direction', 'tags', 'lastStatusAt', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid('UUIDv7, so ids sort by creation time.'),
      channelId: uuid(),
      sender: { oneOf: [componentRef('MessageConnector'), componentRef('MessageContact')] },
      receiver: { oneOf: [componentRef('MessageConnector'), componentRef('MessageContacts')] },
      body: { ...componentRef('Body'), description: 'The body as sent. (A `rejected` entry of a batch keeps what was given, valid or not.)' },
      template: { ...componentRef('Template'), description: 'The template as sent, for template messages.' },
      meta: componentRef('Meta'),
      reference: { type: 'string', description: 'The `reference` given at send time.' },
      parts: { type: 'array', items: { type: 'object', properties: { platformReference: { type: 'string' } } } },
      status: componentRef('MessageStatus'),
      reason: { type: 'string' },
      details: { type: 'string', description: 'More about the status, e.g. why a message was rejected.' },
      failure: componentRef('MessageFailure'),
      direction: { type: 'string', enum: ['incoming', 'outgoing'] },
      origin: nullable({ type: 'object', required: ['type', 'id'], properties: { type: { type: 'string' }, id: { type: 'string' } } }),
      replyTo: componentRef('ReplyTo'),
      tags: { type: 'array', items: { type: 'string' } },
      shortLinks: { type: 'object', properties: { domain: { type: 'string' } } },
      scheduledFor: dateTime('When the message is to be sent, if it was scheduled.'),
      batchId: uuid('The batch the message was sent in, if any.'),
      chargeableUnits: { type: 'integer' },
      lastStatusAt: dateTime(),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  MessageBatch: {
    type: 'object',
    description: 'The messages of a batch, one per request and in the same order.',
    required: ['batchId', 'results'],
    properties: {
      batchId: uuid('Also set as `batchId` on each message; the `batchId` filter of the list endpoints finds them all.'),
      results: { type: 'array', items: componentRef('Message') },
    },
  },
  CreateMessageBatch: {
    type: 'object',
    additionalProperties: false,
    required: ['messageRequests'],
    properties: {
      messageRequests: {
        type: 'array',
        minItems: 1,
        maxItems: 100,
        items: componentRef('CreateMessage'),
        description:
          'The messages to send. Each is checked on its own: one that is invalid does not fail the batch but is stored as a `rejected` message with failure code 11002 and the problems, as JSON, in `details`.',
      },
    },
  },
  MessageList: pageOf('Message', 'A page of messages, newest first unless `reverse`.', {
    startAt: { type: ['string', 'null'], format: 'date-time', description: 'The `startAt` filter, else the creation time of the oldest message on the page; `null` for an empty page.' },
    endAt: { type: ['string', 'null'], format: 'date-time', description: 'The `endAt` filter, else the creation time of the newest message on the page; `null` for an empty page.' },
  }),
};

// --------------------------------------------------------------------------------- list query parameters

const MULTI = 'Several values: repeat the parameter (`{name}=a&{name}=b`), use `{name}[]=a`, or separate them with commas. Matches any of them.';

function query(name: string, schema: JsonSchema, description: string, extra: Partial<Parameter> = {}): Parameter {
  return { name, in: 'query', description, schema, ...extra };
}
function multi(name: string, items: JsonSchema, description: string, extra: Partial<Parameter> = {}): Parameter {
  return query(name, { type: 'array', items }, `${description} ${MULTI.replaceAll('{name}', name)}`, { style: 'form', explode: true, ...extra });
}

const listParameters: (Parameter | Reference)[] = [
  ...pageParameters(MESSAGE_PAGE, 'Messages', 'newest first'),
  multi('platform', { type: 'string', pattern: '^[A-Za-z0-9-]{3,60}$' }, `Only messages on these platforms, by Aviary name (${PLATFORM_NAMES.map((p) => `\`${p}\``).join(', ')}) or Bird platformId.`),
  query('direction', { type: 'string', enum: ['incoming', 'outgoing'] }, 'Only incoming or only outgoing messages.', { example: 'outgoing' }),
  multi('status', { type: 'string', enum: MESSAGE_STATUSES }, 'Only messages whose current status is one of these; an unknown status answers 400.'),
  multi('id', { type: 'string', format: 'uuid' }, 'Only these messages.'),
  query('navigatorId', { type: 'string', format: 'uuid' }, 'Only messages sent with this `meta.navigatorId`.'),
  query('startAt', { type: 'string', format: 'date-time' }, 'Only messages created at or after this time (RFC 3339).'),
  query('endAt', { type: 'string', format: 'date-time' }, 'Only messages created at or before this time (RFC 3339).'),
  multi('from', { type: 'string' }, 'Only messages from these sender identifiers.'),
  multi('to', { type: 'string' }, 'Only messages to any of these receiver identifiers.'),
  multi('failureCode', { type: 'integer' }, 'Only messages that failed with these `failure.code`s.'),
  multi('failureSourceCode', { type: 'string' }, 'Only messages that failed with these `failure.source.code`s.'),
  multi('failureSourceName', { type: 'string' }, 'Only messages that failed at these `failure.source.name`s.'),
  multi('countryCode', { type: 'string' }, 'Only messages to phone numbers of these countries (ISO 3166-1 alpha-2, any case).'),
  multi('tag', { type: 'string' }, 'Only messages with any of these tags (any case).'),
  query('emailSubject', { type: 'string' }, 'Only email messages whose subject contains every word of this text.'),
  query('batchId', { type: 'string', format: 'uuid' }, 'Only messages of this batch.'),
];

const LIST_DESCRIPTION =
  'Filters combine with AND. Pages are walked by keyset on creation time, so every page costs the same and a page token stays valid while new messages arrive. ' +
  'An invalid parameter answers 400 `InvalidParameters` with `details` naming each parameter.';

function listOperation(operationId: string, summary: string, scope: string): Operation {
  return {
    operationId,
    summary,
    description: `${scope} ${LIST_DESCRIPTION}`,
    tags: ['Messages'],
    parameters: listParameters,
    responses: { '200': { description: 'A page of messages.', content: json(componentRef('MessageList')) }, ...errorRefs(400) },
  };
}

const messageResponse = { description: 'The message.', content: json(componentRef('Message')) };

export const messagesFeature: ApiFeature = {
  tag: { name: 'Messages', description: 'Sending messages through a channel and reading them back, per channel or for the whole workspace.' },
  schemas,
  workspacePaths: {
    '/channels/{channelId}/messages': {
      parameters: [paramRef('channelId')],
      post: {
        operationId: 'createChannelMessage',
        summary: 'Send a message',
        description:
          'Sends a message through the channel, which must be `active`. The body is Bird\'s `CreateMessage`: a `receiver`, and a `body` or a `template`. ' +
          'Besides the schema, Aviary checks what the platform needs: receiver identifiers of the channel\'s kind (E.164 phone numbers, email addresses), ' +
          `one receiver except on email and SMS (SMS: up to ${MAX_SMS_RECEIVERS}, each sent on its own; the status rule is in docs/lifecycle.md), a subject on email, platform size limits, and \`scheduledFor\` at most ${MAX_SCHEDULE_DAYS} days ahead.\n\n` +
          'Each receiver is resolved to a contact of the workspace (created on first use). 202 means the message is durably stored, with status `accepted`.',
        tags: ['Messages'],
        requestBody: {
          required: true,
          content: json(componentRef('CreateMessage'), {
            receiver: { contacts: [{ identifierValue: '+31612345678' }] },
            body: { type: 'text', text: { text: 'Your order has shipped.' } },
            reference: 'order-1234',
            tags: ['shipping'],
          }),
        },
        responses: {
          '202': { description: 'The message was accepted and stored.', content: json(componentRef('Message')) },
          ...errorRefs(...BODY_ERROR_STATUSES, 409),
        },
      },
      get: listOperation('listChannelMessages', 'List a channel\'s messages', 'Messages of this channel.'),
    },
    '/channels/{channelId}/batch/messages': {
      parameters: [paramRef('channelId')],
      post: {
        operationId: 'createChannelMessageBatch',
        summary: 'Send a batch of messages',
        description:
          'Sends 1 to 100 messages through the channel, which must be `active`, in one request and one transaction: all of them are stored or none. ' +
          'Only the envelope can make the request fail (422); each message request is validated like a single send, and an invalid one becomes a `rejected` message of the batch.',
        tags: ['Messages'],
        requestBody: {
          required: true,
          content: json(componentRef('CreateMessageBatch'), {
            messageRequests: [
              { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'text', text: { text: 'Your code is 123456' } } },
              { receiver: { contacts: [{ identifierValue: '+31687654321' }] }, body: { type: 'text', text: { text: 'Your code is 654321' } }, reference: 'user-42' },
            ],
          }),
        },
        responses: {
          '202': { description: 'The batch was stored: accepted and rejected messages, in request order.', content: json(componentRef('MessageBatch')) },
          ...errorRefs(...BODY_ERROR_STATUSES, 409),
        },
      },
    },
    '/channels/{channelId}/messages/{messageId}': {
      parameters: [paramRef('channelId'), paramRef('messageId')],
      get: { operationId: 'getChannelMessage', summary: 'Get a message of a channel', tags: ['Messages'], responses: { '200': messageResponse } },
      delete: {
        operationId: 'deleteChannelMessage',
        summary: 'Cancel a message',
        description:
          'Cancels a message that has not been handed to a provider yet: an `accepted` or `scheduled` message becomes `deleted` and is not sent. ' +
          'Any later status answers 409 `Conflict`.',
        tags: ['Messages'],
        responses: { '204': { description: 'The message was cancelled.' }, ...errorRefs(409) },
      },
    },
    '/messages': {
      get: listOperation('listMessages', 'List messages', 'Messages of every channel of the workspace, including deleted channels.'),
    },
    '/messages/{messageId}': {
      parameters: [paramRef('messageId')],
      get: { operationId: 'getMessage', summary: 'Get a message', tags: ['Messages'], responses: { '200': messageResponse } },
    },
  },
};

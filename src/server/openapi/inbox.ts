import { INBOX_PAGE } from '../../inbox/search.ts';
import { AUTH_ERROR_STATUSES, errorRefs, json, paramRef } from './common.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Operation } from './types.ts';

// The web inbox (src/inbox/, docs/inbox.md): its page, and the reads behind it. Aviary's own paths.

const PUBLIC = { security: [] };
const tags = ['Inbox'];
const html = (what: string, type: string): Operation => ({
  operationId: `getInbox${what}`,
  summary: `Inbox ${what.toLowerCase()}`,
  description: 'Part of the web inbox page (no key: it holds no data; the page signs in with a key it keeps in the browser session).',
  tags,
  ...PUBLIC,
  responses: { '200': { description: `The inbox ${what.toLowerCase()}.`, content: { [type]: { schema: { type: 'string' } } } } },
});

const schemas: Record<string, JsonSchema> = {
  InboxItem: {
    type: 'object',
    required: ['message', 'history', 'interactions'],
    properties: {
      message: componentRef('Message'),
      history: {
        type: 'array',
        description: 'Every status the message took, oldest first.',
        items: {
          type: 'object',
          required: ['status', 'at'],
          properties: { status: { type: 'string' }, at: { type: 'string', format: 'date-time' }, reason: { type: ['string', 'null'] }, failure: {} },
        },
      },
      interactions: { type: 'array', items: componentRef('Interaction'), description: 'Its interactions, oldest first (at most 100).' },
    },
  },
};

const auth = errorRefs(...AUTH_ERROR_STATUSES);
const q = (name: string, description: string) => ({ name, in: 'query' as const, description, schema: { type: 'string' } });

export const inboxFeature: ApiFeature = {
  tag: { name: 'Inbox', description: 'Aviary\'s web inbox at `/inbox` and the reads behind it (docs/inbox.md).' },
  schemas,
  paths: {
    '/inbox': { get: html('Page', 'text/html') },
    '/inbox/app.js': { get: html('Script', 'text/javascript') },
    '/inbox/app.css': { get: html('Styles', 'text/css') },
    '/inbox/api/session': {
      get: {
        operationId: 'getInboxSession',
        summary: 'The key\'s workspaces',
        tags,
        responses: {
          '200': {
            description: 'The key\'s organization and the workspaces it may open.',
            content: json({ type: 'object', properties: { organizationId: { type: 'string', format: 'uuid' }, workspaces: { type: 'array', items: { type: 'object' } } } }),
          },
          ...errorRefs(401, 429),
        },
      },
    },
    '/inbox/api/workspaces/{workspaceId}/conversations': {
      parameters: [paramRef('workspaceId')],
      get: {
        operationId: 'listInboxConversations',
        summary: 'A channel\'s conversations',
        description: 'The channel\'s contacts, most recently active first, from its newest 2,000 messages.',
        tags,
        parameters: [{ ...q('channelId', 'The channel.'), required: true }],
        responses: { '200': { description: 'Conversations.', content: json({ type: 'object', properties: { results: { type: 'array', items: { type: 'object' } } } }) }, ...auth, ...errorRefs(400) },
      },
    },
    '/inbox/api/workspaces/{workspaceId}/messages': {
      parameters: [paramRef('workspaceId')],
      get: {
        operationId: 'searchInboxMessages',
        summary: 'Search messages, with their timelines',
        description: 'Newest first, keyset-paged. Filters combine: `contact` matches either direction; `text` matches anywhere in the body (or an email subject).',
        tags,
        parameters: [
          q('channelId', 'Only this channel.'),
          q('contact', 'A contact\'s identifier: messages to it or from it.'),
          q('platform', 'Platforms, comma-separated.'),
          q('status', 'Statuses, comma-separated.'),
          q('tag', 'A tag.'),
          q('text', 'Words in the message (at most 200 characters).'),
          { name: 'limit', in: 'query', description: 'Messages per page.', schema: { type: 'integer', minimum: 1, maximum: INBOX_PAGE.maxLimit, default: INBOX_PAGE.defaultLimit } },
          paramRef('pageToken'),
        ],
        responses: {
          '200': { description: 'A page.', content: json({ type: 'object', properties: { results: { type: 'array', items: componentRef('InboxItem') }, nextPageToken: { type: ['string', 'null'] } } }) },
          ...auth,
          ...errorRefs(400),
        },
      },
    },
    '/inbox/api/workspaces/{workspaceId}/messages/{messageId}': {
      parameters: [paramRef('workspaceId'), paramRef('messageId')],
      get: {
        operationId: 'getInboxMessage',
        summary: 'One message with its timeline',
        tags,
        responses: { '200': { description: 'The message, its status history and interactions.', content: json(componentRef('InboxItem')) }, ...auth },
      },
    },
    '/inbox/api/workspaces/{workspaceId}/events': {
      parameters: [paramRef('workspaceId')],
      get: {
        operationId: 'streamInboxEvents',
        summary: 'Live updates',
        description: 'Server-sent events: `ready`, then `messages` (an array of InboxItem: what changed, from any process on the same store, within about 250 ms), `resync` (too many changes at once: read again) and `error`.',
        tags,
        responses: { '200': { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...auth },
      },
    },
  },
};

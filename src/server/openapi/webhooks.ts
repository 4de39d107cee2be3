import { EXECUTION_STATUSES } from '../../webhooks/deliveries.ts';
import { WEBHOOK_EVENTS } from '../../context.ts';
import { MESSAGE_STATUSES } from '../../messages/lifecycle.ts';
import { createSubscriptionSchema, DEFAULT_PAGE, updateSubscriptionSchema } from '../../webhooks/routes.ts';
import { AUTH_ERROR_STATUSES, BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { WEBHOOK_PAGE } from '../../webhooks/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Operation, Parameter, PathItem } from './types.ts';

// Webhook subscriptions and their logs: src/webhooks/routes.ts, served under Bird's
// /organizations/{organizationId}/workspaces/{workspaceId} and the older /workspaces/{workspaceId}.
// What is delivered, how it is signed and retried: docs/webhooks.md.

const filterNote =
  'Filters of one subscription AND together; a key given several times (messageStatus, interactionType, platformId) matches any of its values. ' +
  'At most one `channelId`. At most 5 subscriptions of a workspace may have the same event and the same filters. ' +
  'An unfiltered subscription receives an event only when no filtered subscription for the same event matches it (Bird\'s precedence; docs/webhooks.md).';

const schemas: Record<string, JsonSchema> = {
  WebhookEventFilter: {
    type: 'object',
    required: ['key', 'value'],
    properties: {
      key: { type: 'string', enum: ['channelId', 'messageStatus', 'interactionType', 'platformId'] },
      value: { type: 'string', description: `A channel id, a message status (${MESSAGE_STATUSES.join(', ')}), an interaction type, or a platformId.` },
    },
  },
  WebhookSubscription: {
    type: 'object',
    description: 'Where and how events of one kind are delivered (Bird\'s webhook subscription, plus Aviary\'s `standardWebhooks`, `statusReason` and `failingSince`).',
    required: ['id', 'organizationId', 'workspaceId', 'service', 'event', 'eventFilters', 'template', 'url', 'signingKey', 'status', 'createdAt', 'updatedAt', 'standardWebhooks', 'statusReason', 'failingSince'],
    properties: {
      id: uuid(),
      organizationId: uuid(),
      workspaceId: uuid(),
      service: { type: 'string', enum: ['channels', 'numbers', 'payments', 'conversations'] },
      event: { type: 'string', description: `One of: ${[...WEBHOOK_EVENTS.keys()].map((e) => `\`${e}\``).join(', ')}.` },
      eventFilters: { type: 'array', items: componentRef('WebhookEventFilter'), description: filterNote },
      template: { type: ['string', 'null'], description: 'Stored and returned as given; Aviary does not transform payloads.' },
      url: { type: 'string', description: 'Where events are POSTed. Requests to it are signed over this exact string.' },
      signingKey: { type: 'string', description: 'The HMAC key of the `messagebird-signature` header (generated when none was given).' },
      status: { type: 'string', enum: ['active', 'inactive'], description: 'Only active subscriptions receive events.' },
      createdAt: dateTime(),
      updatedAt: dateTime(),
      standardWebhooks: { type: 'boolean', description: 'Aviary: also send Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`).' },
      statusReason: { type: ['string', 'null'], description: 'Aviary: why Aviary made the subscription inactive (its deliveries failed for days); null otherwise.' },
      failingSince: { ...dateTime(), type: ['string', 'null'], description: 'Aviary: since when every delivery attempt has failed; null while deliveries succeed.' },
    },
  },
  WebhookSubscriptionList: pageOf('WebhookSubscription', 'A page of webhook subscriptions, oldest first.'),
  CreateWebhookSubscription: createSubscriptionSchema,
  UpdateWebhookSubscription: updateSubscriptionSchema,
  WebhookLogEntry: {
    type: 'object',
    description: 'One webhook request (one event to one subscription) and where its delivery stands.',
    required: ['requestId', 'attemptCount', 'httpStatusCode', 'executionStatus', 'createdAt'],
    properties: {
      requestId: uuid('Sent as `messagebird-request-id` on every attempt.'),
      attemptCount: { type: 'integer', minimum: 0 },
      httpStatusCode: { type: ['integer', 'null'], description: 'The status of the last answer; null before the first or when none came (timeout, connection error).' },
      executionStatus: { type: 'string', enum: EXECUTION_STATUSES, description: '`pending` until delivered (retries may be scheduled), `succeeded` on a 2xx answer, `failed` once retries ran out.' },
      createdAt: dateTime('When the event happened; `messagebird-request-timestamp` is its unix second.'),
      event: { type: 'string' },
      nextAttemptAt: { ...dateTime(), type: ['string', 'null'], description: 'When the next attempt is due; null once finished.' },
      redeliveryOf: { type: ['string', 'null'], format: 'uuid', description: 'For a request created by redelivery: the request it repeats.' },
    },
  },
  WebhookLogList: pageOf('WebhookLogEntry', 'A page of requests, newest first.'),
  WebhookAttempt: {
    type: 'object',
    required: ['attempt', 'createdAt', 'url', 'requestHeaders', 'requestBody', 'httpStatusCode', 'responseBody', 'durationMs', 'error'],
    properties: {
      attempt: { type: 'integer', minimum: 1 },
      createdAt: dateTime(),
      url: { type: 'string' },
      requestHeaders: { type: 'object', additionalProperties: { type: 'string' } },
      requestBody: { type: 'string' },
      httpStatusCode: { type: ['integer', 'null'] },
      responseBody: { type: ['string', 'null'], description: 'The first 1 KiB of the answer.' },
      durationMs: { type: 'number' },
      error: { type: ['string', 'null'], description: 'Why no answer came (timeout, connection refused, address not allowed, ...).' },
    },
  },
  WebhookLogDetails: {
    allOf: [
      componentRef('WebhookLogEntry'),
      {
        type: 'object',
        required: ['subscriptionId', 'requestBody', 'results'],
        properties: {
          subscriptionId: uuid(),
          requestBody: { type: 'string', description: 'The exact body sent (and signed) on every attempt.' },
          results: { type: 'array', items: componentRef('WebhookAttempt'), description: 'Every attempt, oldest first.' },
        },
      },
    ],
  },
};

const subscriptionParam: Parameter = {
  name: 'webhookSubscriptionId',
  in: 'path',
  required: true,
  description: 'A webhook subscription of the workspace.',
  schema: { type: 'string', format: 'uuid' },
};
const requestIdParam: Parameter = { name: 'requestId', in: 'path', required: true, description: 'A request id from the logs.', schema: { type: 'string', format: 'uuid' } };
const organizationParam: Parameter = {
  name: 'organizationId',
  in: 'path',
  required: true,
  description: 'The organization: that of the access key and of the workspace.',
  schema: { type: 'string', format: 'uuid' },
};


const tags = ['Webhooks'];
const subscription = json(componentRef('WebhookSubscription'));

// Operations relative to the workspace, named for the organization form (Bird's current one).
const operations: Record<string, PathItem> = {
  '/webhook-subscriptions': {
    post: {
      operationId: 'createWebhookSubscription',
      summary: 'Create a webhook subscription',
      description: `Required: \`service\`, \`event\`, \`url\`. ${filterNote} With \`webhookAllowPrivateUrls\` off (production), the URL must be https with a domain name that resolves to public addresses.`,
      tags,
      requestBody: {
        required: true,
        content: json(componentRef('CreateWebhookSubscription'), {
          service: 'channels',
          event: 'sms.outbound',
          url: 'https://example.com/webhooks/bird',
          eventFilters: [{ key: 'messageStatus', value: 'delivered' }],
          signingKey: 'KeV+/HGoIQrxuE5YPCRR6AuQOJveldYNNhbVi1i22qk=',
        }),
      },
      responses: { '201': { description: 'The subscription.', content: subscription }, ...errorRefs(...BODY_ERROR_STATUSES, 409) },
    },
    get: {
      operationId: 'listWebhookSubscriptions',
      summary: 'List webhook subscriptions',
      tags,
      parameters: pageParameters(WEBHOOK_PAGE, 'Subscriptions', 'oldest first'),
      responses: { '200': { description: 'A page of subscriptions.', content: json(componentRef('WebhookSubscriptionList')) }, ...errorRefs(400) },
    },
  },
  '/webhook-subscriptions/{webhookSubscriptionId}': {
    parameters: [subscriptionParam],
    get: {
      operationId: 'getWebhookSubscription',
      summary: 'Get a webhook subscription',
      tags,
      responses: { '200': { description: 'The subscription.', content: subscription } },
    },
    patch: {
      operationId: 'updateWebhookSubscription',
      summary: 'Update a webhook subscription',
      description:
        'At least one of `template`, `url`, `signingKey`, `status`, `eventFilters` (or `standardWebhooks`); anything else is refused. `eventFilters` replaces the filters (null clears them). Setting `status` to `active` clears `failingSince` and `statusReason`. Pending deliveries use the new URL and key from their next attempt.',
      tags,
      requestBody: { required: true, content: json(componentRef('UpdateWebhookSubscription'), { status: 'inactive' }) },
      responses: { '200': { description: 'The updated subscription.', content: subscription }, ...errorRefs(...BODY_ERROR_STATUSES, 409) },
    },
    delete: {
      operationId: 'deleteWebhookSubscription',
      summary: 'Delete a webhook subscription',
      description: 'Its pending deliveries and logs go with it.',
      tags,
      responses: { '204': { description: 'The subscription was deleted.' } },
    },
  },
  '/webhook-subscriptions/{webhookSubscriptionId}/logs': {
    parameters: [subscriptionParam],
    get: {
      operationId: 'listWebhookSubscriptionLogs',
      summary: 'List a subscription\'s webhook requests',
      description: 'One entry per event sent to the subscription, newest first, kept 7 days (`webhookLogRetentionMs`).',
      tags,
      parameters: [
        ...pageParameters(WEBHOOK_PAGE, 'Requests', 'newest first'),
        { name: 'executionStatus', in: 'query', description: 'Only requests in this state.', schema: { type: 'string', enum: EXECUTION_STATUSES }, example: 'failed' },
      ],
      responses: { '200': { description: 'A page of requests.', content: json(componentRef('WebhookLogList')) }, ...errorRefs(400) },
    },
  },
  '/webhook-subscriptions/{webhookSubscriptionId}/logs/details': {
    parameters: [subscriptionParam],
    get: {
      operationId: 'getWebhookSubscriptionLogDetails',
      summary: 'Every attempt of one webhook request',
      description: 'Request headers and body, the answer\'s status and first 1 KiB, the duration and the error of each attempt.',
      tags,
      parameters: [{ name: 'requestId', in: 'query', required: true, description: 'The request (messagebird-request-id).', schema: { type: 'string', format: 'uuid' } }],
      responses: { '200': { description: 'The request and its attempts.', content: json(componentRef('WebhookLogDetails')) }, ...errorRefs(400) },
    },
  },
  '/webhook-subscriptions/{webhookSubscriptionId}/logs/{requestId}/redeliver': {
    parameters: [subscriptionParam, requestIdParam],
    post: {
      operationId: 'redeliverWebhookRequest',
      summary: 'Send a webhook request again',
      description:
        'Aviary: queues a new request with the same body to the subscription\'s current URL, due now. It has its own request id and timestamp (so a receiver that drops duplicates by request id does not drop it) and its own retries; `redeliveryOf` names the original.',
      tags,
      responses: { '202': { description: 'The new request.', content: json(componentRef('WebhookLogEntry')) } },
    },
  },
};

function legacy(op: Operation): Operation {
  return { ...op, operationId: op.operationId.replace(/Webhook/, 'WorkspaceWebhook'), description: `${op.description ? `${op.description} ` : ''}The older path form, without the organization.` };
}

function withOrganization(item: PathItem): PathItem {
  const out: PathItem = { ...item, parameters: [organizationParam, paramRef('workspaceId'), ...(item.parameters ?? [])] };
  for (const m of ['get', 'post', 'patch', 'delete'] as const) {
    const op = item[m];
    if (op) out[m] = { ...op, responses: { ...errorRefs(...AUTH_ERROR_STATUSES), ...op.responses } };
  }
  return out;
}

function mapOps(item: PathItem, f: (op: Operation) => Operation): PathItem {
  const out: PathItem = { ...item };
  for (const m of ['get', 'post', 'patch', 'delete'] as const) if (item[m]) out[m] = f(item[m]!);
  return out;
}

export const webhooksFeature: ApiFeature = {
  tag: {
    name: 'Webhooks',
    description:
      'Bird\'s webhook subscriptions (Notifications API). Events: `<platform>.outbound` on every status change of an outgoing message, `<platform>.inbound` for every incoming message, `<platform>.interaction` for every interaction, `channel.created`, `channel.updated`. ' +
      'Each is POSTed as `{"service": "channels", "event", "payload"}`, signed with `messagebird-signature` (HMAC-SHA256, key = signingKey, over timestamp + "\\n" + url + "\\n" + SHA-256 of the body), `messagebird-request-timestamp` and `messagebird-request-id`; ' +
      'delivered at least once, in order per message, retried on anything but 2xx for 8 hours. See docs/webhooks.md.',
  },
  schemas,
  paths: Object.fromEntries(Object.entries(operations).map(([p, item]) => [`/organizations/{organizationId}/workspaces/{workspaceId}${p}`, withOrganization(item)])),
  workspacePaths: Object.fromEntries(Object.entries(operations).map(([p, item]) => [p, mapOps(item, legacy)])),
};

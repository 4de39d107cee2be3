import { PLATFORM_NAMES } from '../../channels/platforms.ts';
import { BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Parameter, PathItem } from './types.ts';
import { createVersionSchema, VARIABLE_TYPES } from '../../templates/content.ts';
import { approveSchema, createProjectSchema, patchProjectSchema, rejectSchema, TEMPLATE_PAGE } from '../../templates/routes.ts';
import { VERSION_STATUSES } from '../../templates/store.ts';

// The OpenAPI part for src/templates/routes.ts, to be added to FEATURES in src/server/openapi/index.ts.
// Request schemas are the routes' own validator schemas; test/templates.test.ts checks the live answers
// against the response schemas below.

const projectId: Parameter = {
  name: 'projectId',
  in: 'path',
  required: true,
  description: 'A template project of the workspace.',
  schema: { type: 'string', format: 'uuid' },
};
const versionId: Parameter = {
  name: 'versionId',
  in: 'path',
  required: true,
  description: 'A version of the project: its id, its number (`3`), or `latest` for the active version.',
  schema: { type: 'string' },
};
const listParameters = pageParameters(TEMPLATE_PAGE, 'Items', 'newest first');

const contentEntry: JsonSchema = {
  type: 'object',
  required: ['locale'],
  properties: {
    locale: { type: 'string' },
    type: { type: 'string', description: 'The type of body the entry renders to.' },
    platform: { type: 'string', enum: PLATFORM_NAMES },
    body: { type: 'object' },
    blocks: { type: 'array', items: { type: 'object' } },
  },
};

const schemas: Record<string, JsonSchema> = {
  TemplateProject: {
    type: 'object',
    description: 'A message template project (Bird\'s Project of type `channelTemplate`).',
    required: ['id', 'workspaceId', 'name', 'description', 'type', 'supportedPlatforms', 'locales', 'activeResourceId', 'versionCount', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid(),
      workspaceId: uuid(),
      name: { type: 'string', description: 'Unique in the workspace; a send finds the project by it as `template.name`.' },
      description: { type: ['string', 'null'] },
      type: { type: 'string', enum: ['channelTemplate'] },
      scope: { type: 'integer' },
      supportedPlatforms: { type: 'array', items: { type: 'string' }, description: 'Of the active version.' },
      locales: { type: 'array', items: { type: 'string' }, description: 'Of the active version.' },
      activeResourceId: { ...uuid('The active version: what `version: "latest"` stands for.'), type: ['string', 'null'] },
      versionCount: { type: 'integer', description: 'Versions created so far (the last version number).' },
      draftCount: { type: 'integer' },
      pendingCount: { type: 'integer' },
      activeCount: { type: 'integer' },
      inactiveCount: { type: 'integer' },
      rejectedCount: { type: 'integer' },
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  TemplateProjectList: pageOf('TemplateProject', 'Template projects, newest first.'),
  CreateTemplateProject: { ...createProjectSchema, description: 'A new template project.' },
  UpdateTemplateProject: { ...patchProjectSchema, description: 'The fields to change; at least one.' },
  ChannelTemplate: {
    type: 'object',
    description: 'A version of a template project (Bird\'s ChannelTemplate).',
    required: ['id', 'projectId', 'version', 'status', 'localeStatuses', 'defaultLocale', 'supportedPlatforms', 'variables', 'genericContent', 'platformContent', 'deployments', 'approvals', 'activatedAt', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid(),
      projectId: uuid(),
      version: { type: 'integer', minimum: 1, description: 'The version number within the project.' },
      status: {
        type: 'string',
        enum: VERSION_STATUSES,
        description: '`draft` until activated; `pending` while WhatsApp reviews it; `active` (at most one per project); `inactive` once another became active; `rejected`.',
      },
      localeStatuses: { type: 'object', additionalProperties: { type: 'string', enum: VERSION_STATUSES } },
      description: { type: ['string', 'null'] },
      defaultLocale: { type: 'string' },
      supportedPlatforms: { type: 'array', items: { type: 'string', enum: ['all', ...PLATFORM_NAMES] } },
      variables: {
        type: 'array',
        description: 'Every variable the content uses; placeholders without a declaration are listed as required strings.',
        items: {
          type: 'object',
          required: ['key', 'type', 'required'],
          properties: { key: { type: 'string' }, type: { type: 'string', enum: VARIABLE_TYPES }, required: { type: 'boolean' } },
        },
      },
      genericContent: { type: 'array', items: contentEntry },
      platformContent: { type: 'array', items: { ...contentEntry, required: ['locale', 'platform'] } },
      deployments: { type: 'array', items: { type: 'object', required: ['key', 'value'] } },
      approvals: {
        type: 'array',
        description: 'Platform reviews (WhatsApp). Aviary plays Meta\'s part through `approve` and `reject`.',
        items: {
          type: 'object',
          required: ['platform', 'status', 'reason', 'updatedAt'],
          properties: {
            platform: { type: 'string', enum: ['whatsapp'] },
            status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
            reason: { type: ['string', 'null'] },
            updatedAt: dateTime(),
          },
        },
      },
      activatedAt: { ...dateTime(), type: ['string', 'null'] },
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  ChannelTemplateList: pageOf('ChannelTemplate', 'Versions of the project, newest first.'),
  CreateChannelTemplate: {
    ...createVersionSchema,
    description:
      'A new version. Content is `genericContent` (any platform) and `platformContent` (one platform each), one entry per locale, each with a Channels API `body` or Studio `blocks`; `{{key}}` placeholders may appear in any string. `approval: "auto"` activates and approves it at once.',
  },
  ApproveChannelTemplate: { ...approveSchema, description: 'Emulator: the platform that approves (only `whatsapp`).' },
  RejectChannelTemplate: { ...rejectSchema, description: 'Emulator: the platform that rejects (only `whatsapp`) and why.' },
};

const project = (description: string) => ({ description, content: json(componentRef('TemplateProject')) });
const version = (description: string) => ({ description, content: json(componentRef('ChannelTemplate')) });
const TAG = 'Templates';

const review = (action: 'activate' | 'approve' | 'reject'): PathItem => ({
  parameters: [projectId, versionId],
  post: {
    operationId: `${action}ChannelTemplate`,
    summary: { activate: 'Activate a version', approve: 'Approve a version (emulator)', reject: 'Reject a version (emulator)' }[action],
    description: {
      activate:
        'Bird\'s activate. A draft that targets WhatsApp is submitted for review (`pending`); any other draft, or an `inactive` version (a rollback), becomes the active version and retires the previous one.',
      approve: 'Plays Meta approving the WhatsApp review of a `pending` (or `rejected`) version: it becomes the active version.',
      reject: 'Plays Meta rejecting (or later disabling) a version: its status becomes `rejected`.',
    }[action],
    tags: [TAG],
    ...(action === 'activate'
      ? {}
      : {
          requestBody: {
            required: false,
            content: json(componentRef(action === 'approve' ? 'ApproveChannelTemplate' : 'RejectChannelTemplate'), action === 'approve' ? { platform: 'whatsapp' } : { reason: 'INVALID_FORMAT' }),
          },
        }),
    responses: { '200': version('The version after the change.'), ...errorRefs(409, ...(action === 'activate' ? [] : BODY_ERROR_STATUSES)) },
  },
});

export const templatesFeature: ApiFeature = {
  tag: {
    name: TAG,
    description:
      'Message templates as Bird\'s Studio keeps them: projects with numbered versions ("channel templates"), content per locale and platform, typed variables and WhatsApp approval. A send with `template` renders the project\'s version. See docs/templates.md.',
  },
  schemas,
  workspacePaths: {
    '/projects': {
      post: {
        operationId: 'createTemplateProject',
        summary: 'Create a template project',
        tags: [TAG],
        requestBody: { required: true, content: json(componentRef('CreateTemplateProject'), { name: 'order-shipped', type: 'channelTemplate' }) },
        responses: { '201': project('The project was created.'), ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listTemplateProjects',
        summary: 'List template projects',
        tags: [TAG],
        parameters: listParameters,
        responses: { '200': { description: 'A page of projects.', content: json(componentRef('TemplateProjectList')) }, ...errorRefs(400) },
      },
    },
    '/projects/{projectId}': {
      parameters: [projectId],
      get: { operationId: 'getTemplateProject', summary: 'Get a template project', tags: [TAG], responses: { '200': project('The project.') } },
      patch: {
        operationId: 'updateTemplateProject',
        summary: 'Update a template project',
        tags: [TAG],
        requestBody: { required: true, content: json(componentRef('UpdateTemplateProject'), { description: 'Shipping notice' }) },
        responses: { '200': project('The updated project.'), ...errorRefs(409, ...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'deleteTemplateProject',
        summary: 'Delete a template project',
        description: 'Deletes the project and all its versions.',
        tags: [TAG],
        responses: { '204': { description: 'The project was deleted.' } },
      },
    },
    '/projects/{projectId}/channel-templates': {
      parameters: [projectId],
      post: {
        operationId: 'createChannelTemplate',
        summary: 'Create a version',
        tags: [TAG],
        requestBody: {
          required: true,
          content: json(componentRef('CreateChannelTemplate'), {
            defaultLocale: 'en',
            variables: [{ key: 'orderId', type: 'number' }],
            genericContent: [{ locale: 'en', body: { type: 'text', text: { text: 'Hello {{name}}, order {{orderId}} ships {{date}}' } } }],
            approval: 'auto',
          }),
        },
        responses: { '201': version('The version was created.'), ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      get: {
        operationId: 'listChannelTemplates',
        summary: 'List versions',
        tags: [TAG],
        parameters: [
          ...listParameters,
          { name: 'status', in: 'query', description: 'Only versions in these states (comma-separated).', schema: { type: 'string' }, example: 'active' },
        ],
        responses: { '200': { description: 'A page of versions.', content: json(componentRef('ChannelTemplateList')) }, ...errorRefs(400) },
      },
    },
    '/projects/{projectId}/channel-templates/{versionId}': {
      parameters: [projectId, versionId],
      get: { operationId: 'getChannelTemplate', summary: 'Get a version', tags: [TAG], responses: { '200': version('The version.') } },
      delete: {
        operationId: 'deleteChannelTemplate',
        summary: 'Delete a version',
        tags: [TAG],
        responses: { '204': { description: 'The version was deleted.' } },
      },
    },
    '/projects/{projectId}/channel-templates/{versionId}/activate': review('activate'),
    '/projects/{projectId}/channel-templates/{versionId}/approve': review('approve'),
    '/projects/{projectId}/channel-templates/{versionId}/reject': review('reject'),
  },
};

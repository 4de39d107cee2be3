import { createWorkspaceSchema, updateWorkspaceSchema } from '../../workspaces/routes.ts';
import { AUTH_ERROR_STATUSES, BODY_ERROR_STATUSES, dateTime, errorRefs, json, pageOf, pageParameters, paramRef, uuid } from './common.ts';
import { WORKSPACE_PAGE } from '../../workspaces/routes.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Operation, Parameter } from './types.ts';

// /organizations/{organizationId}/workspaces: src/workspaces/routes.ts (Bird's Accounts API). The
// request schemas are that file's validators.

const organizationParam: Parameter = {
  name: 'organizationId',
  in: 'path',
  required: true,
  description: 'The organization of the access key (printed at the first start, shown by `aviary workspaces list`). Any other answers 403.',
  schema: { type: 'string', format: 'uuid' },
};
const workspaceParam: Parameter = {
  name: 'workspaceId',
  in: 'path',
  required: true,
  description: 'A workspace of the organization.',
  schema: { type: 'string', format: 'uuid' },
};

const schemas: Record<string, JsonSchema> = {
  Workspace: {
    type: 'object',
    description: 'Bird\'s Workspace. `description`, `dataPolicy` and `configuration` are present when set; Aviary stores them and does not act on them.',
    additionalProperties: false,
    required: ['id', 'organizationId', 'status', 'statusTransitions', 'name', 'createdAt', 'updatedAt'],
    properties: {
      id: uuid(),
      organizationId: uuid(),
      status: { type: 'string', enum: ['active', 'inactive'] },
      statusTransitions: { type: 'array', maxItems: 0, description: 'Always empty: Aviary never bans or suspends a workspace.' },
      name: { type: 'string' },
      description: { type: 'string' },
      dataPolicy: { type: 'object', description: 'As given, e.g. `{"group": "eu-west-1", "regions": [{"region": "eu-west-1", "priority": 1}], "piiStrategy": "default"}`.' },
      configuration: { type: 'object', description: 'As given, e.g. `{"domain": "example.com"}`.' },
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
  },
  WorkspaceList: pageOf('Workspace', 'A page of the organization\'s workspaces, oldest first (newest first with `reverse`).'),
  CreateWorkspace: { ...createWorkspaceSchema, description: 'A new workspace. `userUsername` and `flavors` are checked and ignored (Aviary has no users or flavours).' },
  UpdateWorkspace: { ...updateWorkspaceSchema, description: 'The fields to change; at least one. `null` clears an optional field.' },
};

const tags = ['Workspaces'];
const workspace = json(componentRef('Workspace'));
const withAuth = (op: Operation): Operation => ({ ...op, responses: { ...errorRefs(...AUTH_ERROR_STATUSES), ...op.responses } });

export const organizationsFeature: ApiFeature = {
  tag: {
    name: 'Workspaces',
    description:
      'An organization\'s workspaces (Bird\'s Accounts API). The access key must belong to the organization. A key limited to one workspace lists and reads only that workspace, and may not create or change workspaces (403).',
  },
  schemas,
  paths: {
    '/organizations/{organizationId}/workspaces': {
      parameters: [organizationParam],
      get: withAuth({
        operationId: 'listWorkspaces',
        summary: 'List workspaces',
        tags,
        parameters: [
          ...pageParameters(WORKSPACE_PAGE, 'Workspaces', 'oldest first'),
        ],
        responses: { '200': { description: 'A page of workspaces.', content: json(componentRef('WorkspaceList')) }, ...errorRefs(400) },
      }),
      post: withAuth({
        operationId: 'createWorkspace',
        summary: 'Create a workspace',
        description:
          'Creates the workspace with one sandbox channel per platform, as the first start does for the starter workspace (Aviary\'s choice: Bird creates none), so it can send at once. Keys of the organization that are not limited to one workspace can use it immediately.',
        tags,
        requestBody: { required: true, content: json(componentRef('CreateWorkspace'), { name: 'Marketing', description: 'Campaigns' }) },
        responses: { '201': { description: 'The workspace.', content: workspace }, ...errorRefs(...BODY_ERROR_STATUSES) },
      }),
    },
    '/organizations/{organizationId}/workspaces/{workspaceId}': {
      parameters: [organizationParam, workspaceParam],
      get: withAuth({
        operationId: 'getWorkspace',
        summary: 'Get a workspace',
        tags,
        responses: { '200': { description: 'The workspace.', content: workspace } },
      }),
      patch: withAuth({
        operationId: 'updateWorkspace',
        summary: 'Update a workspace',
        tags,
        requestBody: { required: true, content: json(componentRef('UpdateWorkspace'), { description: 'Campaigns and newsletters' }) },
        responses: { '200': { description: 'The updated workspace.', content: workspace }, ...errorRefs(...BODY_ERROR_STATUSES) },
      }),
    },
  },
};

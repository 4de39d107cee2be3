import { chaosSchema } from '../../sandbox/chaos-routes.ts';
import { moveClockSchema } from '../../sandbox/clock-routes.ts';
import { saveSnapshotSchema } from '../../sandbox/snapshot-routes.ts';
import { BODY_ERROR_STATUSES, errorRefs, json } from './common.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema } from './types.ts';

// Failure injection (src/sandbox/chaos-routes.ts), snapshots (src/sandbox/snapshot-routes.ts) and the clock (src/sandbox/clock-routes.ts):
// Aviary's own emulator controls. The request schemas are the routes' own.

const tags = ['Emulator'];

const chaosResponse: JsonSchema = {
  type: 'object',
  required: ['seed', 'rules', 'updatedAt'],
  properties: {
    seed: { type: 'string' },
    rules: { type: 'array', items: (chaosSchema.properties.rules as { items: JsonSchema }).items },
    updatedAt: { type: ['string', 'null'], format: 'date-time', description: 'null: no rules were set.' },
  },
};

const snapshotInfo: JsonSchema = {
  type: 'object',
  required: ['name', 'createdAt', 'clockAt', 'rows', 'sizeBytes'],
  properties: {
    name: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    clockAt: { type: 'string', format: 'date-time', description: 'The clock\'s time when saved: a virtual clock (`--clock virtual`) goes back to it on restore.' },
    rows: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Rows per non-empty table.' },
    sizeBytes: { type: 'integer' },
  },
};

const clockJson: JsonSchema = {
  type: 'object',
  required: ['mode', 'now'],
  properties: {
    mode: { type: 'string', enum: ['real', 'virtual'], description: 'virtual: started with `--clock virtual`; time stands still until moved.' },
    now: { type: 'string', format: 'date-time', description: 'The time Aviary goes by.' },
    stops: { type: 'integer', description: 'After a move: the moments it stopped at on the way because work fell due.' },
  },
};

const nameParam = { name: 'name', in: 'path' as const, required: true, description: 'The snapshot\'s name.', schema: { type: 'string', pattern: saveSnapshotSchema.properties.name.pattern } };
const OFF = 'Snapshots must be turned on with `--snapshot-dir` (409 `Conflict` otherwise), and need an organization-wide access key (403 for a key bound to one workspace).';

export const emulatorFeature: ApiFeature = {
  tag: {
    name: 'Emulator',
    description: 'Aviary\'s own controls for tests: failure injection on sandbox channels, snapshots of the whole state and a virtual clock. See docs/sandbox.md.',
  },
  schemas: {
    ChaosRules: chaosSchema as JsonSchema,
    Chaos: chaosResponse,
    SaveSnapshot: saveSnapshotSchema as JsonSchema,
    Snapshot: snapshotInfo,
    MoveClock: moveClockSchema as JsonSchema,
    Clock: clockJson,
  },
  workspacePaths: {
    '/sandbox/chaos': {
      get: {
        operationId: 'getChaos',
        summary: 'The failure-injection rules',
        tags,
        responses: { '200': { description: 'The rules in force (none: an empty list).', content: json(componentRef('Chaos')) } },
      },
      put: {
        operationId: 'putChaos',
        summary: 'Replace the failure-injection rules',
        description:
          'Rules for the workspace\'s sandbox channels (a rule with `channelId`: that channel only). Each picks messages by `receiver` pattern and `share`, decided by a hash of `seed`, the rule\'s position, the message\'s `reference` (else its id) and the receiver, so a seed picks the same messages on every run. Every rule that picks a message applies, in order; the first `fail` or `throttle` decides the answer. `delayWebhooks` holds back the workspace\'s webhook deliveries.',
        tags,
        requestBody: {
          required: true,
          content: json(componentRef('ChaosRules'), { seed: 'run-42', rules: [{ action: 'fail', share: 0.2, code: 15005 }, { action: 'delayReceipts', receiver: '+3161*', delayMs: 5000 }] }),
        },
        responses: { '200': { description: 'The rules now in force.', content: json(componentRef('Chaos')) }, ...errorRefs(...BODY_ERROR_STATUSES) },
      },
      delete: {
        operationId: 'deleteChaos',
        summary: 'Clear the failure-injection rules',
        tags,
        responses: { '204': { description: 'No rules any more.' } },
      },
    },
  },
  paths: {
    '/sandbox/clock': {
      get: {
        operationId: 'getClock',
        summary: 'The clock',
        description: 'Needs an organization-wide access key (403 for a key bound to one workspace).',
        tags,
        responses: { '200': { description: 'The clock\'s mode and time.', content: json(componentRef('Clock')) }, ...errorRefs(401, 403) },
      },
      post: {
        operationId: 'moveClock',
        summary: 'Move the virtual clock forward',
        description:
          'With `--clock virtual` only (409 `Conflict` on real time). Moves by `advanceBy` or to `to`, stopping at each moment work falls due on the way (scheduled messages, receipts, validity, retries, webhook retries) until everything due by then is done, so things happen in the order of their times; answers once the clock is at the new time. Needs an organization-wide access key.',
        tags,
        requestBody: { required: true, content: json(componentRef('MoveClock'), { advanceBy: '8h' }) },
        responses: { '200': { description: 'The clock at its new time.', content: json(componentRef('Clock')) }, ...errorRefs(401, 403, 409, ...BODY_ERROR_STATUSES) },
      },
    },
    '/sandbox/snapshots': {
      get: {
        operationId: 'listSnapshots',
        summary: 'List snapshots',
        description: OFF,
        tags,
        responses: {
          '200': { description: 'Every snapshot in the snapshot directory, by name.', content: json({ type: 'object', properties: { results: { type: 'array', items: componentRef('Snapshot') }, nextPageToken: { type: 'null' } } }) },
          ...errorRefs(401, 403, 409),
        },
      },
      post: {
        operationId: 'saveSnapshot',
        summary: 'Save the whole state',
        description: `Every organization, workspace, key, channel, message, webhook and rule, with their ids. A snapshot of the same name is replaced. ${OFF}`,
        tags,
        requestBody: { required: true, content: json(componentRef('SaveSnapshot'), { name: 'seeded' }) },
        responses: { '201': { description: 'The snapshot.', content: json(componentRef('Snapshot')) }, ...errorRefs(401, 403, 409, ...BODY_ERROR_STATUSES) },
      },
    },
    '/sandbox/snapshots/{name}': {
      parameters: [nameParam],
      get: {
        operationId: 'getSnapshot',
        summary: 'A snapshot',
        tags,
        responses: { '200': { description: 'The snapshot.', content: json(componentRef('Snapshot')) }, ...errorRefs(401, 403, 404, 409) },
      },
      delete: {
        operationId: 'deleteSnapshot',
        summary: 'Delete a snapshot',
        tags,
        responses: { '204': { description: 'Deleted.' }, ...errorRefs(401, 403, 404, 409) },
      },
    },
    '/sandbox/snapshots/{name}/restore': {
      parameters: [nameParam],
      post: {
        operationId: 'restoreSnapshot',
        summary: 'Restore the whole state',
        description: `Replaces everything with the snapshot, ids and access keys included; the workers keep running. 409 for a snapshot saved by a version of Aviary with another schema. ${OFF}`,
        tags,
        responses: { '200': { description: 'The snapshot restored.', content: json(componentRef('Snapshot')) }, ...errorRefs(401, 403, 404, 409) },
      },
    },
  },
};

import type { FastifyInstance } from 'fastify';
import { CHAOS_ACTIONS, FAILURE_CODES, type ChaosAction, type ChaosConfig, type ChaosRule } from '../connectors/sandbox/chaos.ts';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { ajv, ajvDetails } from '../http/validate.ts';
import { deleteChaos, readChaos, writeChaos, type StoredChaos } from './chaos-store.ts';

// Failure injection on demand, Aviary's own endpoints (docs/sandbox.md):
//   PUT    /workspaces/{ws}/sandbox/chaos   replaces the workspace's rules (channel rules name their channel)
//   GET    /workspaces/{ws}/sandbox/chaos   the rules in force ({"seed": "", "rules": []} when none)
//   DELETE /workspaces/{ws}/sandbox/chaos   clears them
// One document per workspace, replaced whole: a test states the misbehaviour it wants and nothing else
// lingers from the one before. Rules act on sandbox channels only; real providers misbehave by themselves.

const MAX_RULES = 100;
const MAX_DELAY_MS = 86_400_000;

// Which fields each action takes besides the common ones (channelId, receiver, share).
const FIELDS: Record<ChaosAction, { required: string[]; optional: string[] }> = {
  fail: { required: ['code'], optional: ['at', 'retryable'] },
  delayReceipts: { required: ['delayMs'], optional: [] },
  dropReceipts: { required: [], optional: [] },
  duplicateReceipts: { required: [], optional: ['copies'] },
  throttle: { required: [], optional: ['attempts', 'retryAfterMs'] },
  delayWebhooks: { required: ['delayMs'], optional: [] },
};
const COMMON = ['action', 'channelId', 'receiver', 'share'];

export const chaosRuleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    action: { type: 'string', enum: CHAOS_ACTIONS, description: 'What the sandbox does to the messages the rule picks.' },
    channelId: { type: 'string', format: 'uuid', description: 'Only this sandbox channel of the workspace; absent: every one.' },
    receiver: {
      type: 'string',
      minLength: 1,
      maxLength: 320,
      description: 'Only receivers whose identifier matches; `*` stands for any characters, case is ignored (`+3161*`, `*@example.com`). Not for `delayWebhooks`.',
    },
    share: { type: 'number', minimum: 0, maximum: 1, description: 'The share of matching messages picked (default 1), decided by a hash of the seed, the rule\'s position, the message\'s reference (else its id) and the receiver.' },
    code: { type: 'integer', enum: Object.keys(FAILURE_CODES).map(Number), description: 'fail: the Bird failure code.' },
    at: { type: 'string', enum: ['send', 'receipt'], description: 'fail: refused at send (`sending_failed`) or reported later (`delivery_failed`); default by code.' },
    retryable: { type: 'boolean', description: 'fail at send: retried with backoff until the attempt limit; default true for 12001 and 15001.' },
    delayMs: { type: 'integer', minimum: 0, maximum: MAX_DELAY_MS, description: 'delayReceipts, delayWebhooks: how much later, in ms.' },
    copies: { type: 'integer', minimum: 2, maximum: 10, description: 'duplicateReceipts: how many times each receipt arrives (default 2).' },
    attempts: { type: 'integer', minimum: 1, maximum: 10, description: 'throttle: how many attempts are throttled (default 1).' },
    retryAfterMs: { type: 'integer', minimum: 0, maximum: 3_600_000, description: 'throttle: the Retry-After the provider names (default 1000).' },
  },
};

export const chaosSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    seed: { type: 'string', maxLength: 200, description: 'Decides which messages a `share` picks; the same seed picks the same ones (default "").' },
    rules: { type: 'array', maxItems: MAX_RULES, items: chaosRuleSchema },
  },
};

const validate = ajv.compile<ChaosConfig>(chaosSchema);

/** The rules, checked: shape by the schema, then what only the request's context can tell (fields per action, the channels). */
async function checkChaos(ctx: AppContext, workspaceId: string, body: unknown): Promise<ChaosConfig> {
  if (body === undefined) throw errors.badRequest('A JSON request body is required');
  if (!validate(body)) throw errors.invalidPayload(ajvDetails(validate.errors, body));
  const details: ErrorDetails = {};
  const add = (path: string, message: string) => (details[path] ??= []).push(message);
  for (const [i, rule] of body.rules.entries()) {
    const at = `.rules[${i}]`;
    const fields = FIELDS[rule.action];
    for (const f of fields.required) if ((rule as unknown as Record<string, unknown>)[f] === undefined) add(`${at}.${f}`, `is required for action "${rule.action}"`);
    for (const f of Object.keys(rule)) {
      if (!COMMON.includes(f) && !fields.required.includes(f) && !fields.optional.includes(f)) add(`${at}.${f}`, `is not used by action "${rule.action}"`);
    }
    if (rule.action === 'delayWebhooks' && rule.receiver !== undefined) add(`${at}.receiver`, 'webhook events are held back by channel and share, not by receiver');
    if (rule.retryable !== undefined && rule.code !== undefined && (rule.at ?? FAILURE_CODES[rule.code].at) === 'receipt') {
      add(`${at}.retryable`, 'a failure reported by a receipt comes after the send: there is nothing to retry');
    }
    if (rule.channelId !== undefined) {
      const channel = await ctx.channels.get(workspaceId, rule.channelId);
      if (!channel) add(`${at}.channelId`, 'no such channel in this workspace');
      else if (channel.connectorType !== 'sandbox') add(`${at}.channelId`, `failure injection acts on sandbox channels; this channel's connector is "${channel.connectorType}"`);
    }
  }
  if (Object.keys(details).length) throw errors.invalidPayload(details);
  return { seed: body.seed ?? '', rules: body.rules.map(normalize) };
}

// Stored with fields in a fixed order, so GET shows what PUT was given, tidily.
function normalize(rule: ChaosRule): ChaosRule {
  const order = ['action', 'channelId', 'receiver', 'share', ...FIELDS[rule.action].required, ...FIELDS[rule.action].optional];
  const r = rule as unknown as Record<string, unknown>;
  return Object.fromEntries(order.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])) as unknown as ChaosRule;
}

export function chaosJson(stored: StoredChaos | undefined): Record<string, unknown> {
  return stored ? { seed: stored.seed, rules: stored.rules, updatedAt: stored.updatedAt.toISOString() } : { seed: '', rules: [], updatedAt: null };
}

export function chaosRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/sandbox/chaos', async (request) => chaosJson(await readChaos(ctx.db, request.principal.workspace.id)));

  app.put('/sandbox/chaos', async (request) => {
    const ws = request.principal.workspace.id;
    const config = await checkChaos(ctx, ws, request.body);
    const stored = await writeChaos(ctx.db, ws, config);
    ctx.chaos.forget(ws);
    return chaosJson(stored);
  });

  app.delete('/sandbox/chaos', async (request, reply) => {
    const ws = request.principal.workspace.id;
    await deleteChaos(ctx.db, ws);
    ctx.chaos.forget(ws);
    return reply.code(204).send();
  });
}

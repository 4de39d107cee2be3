import type { FastifyInstance } from 'fastify';
import type { Channel } from '../channels/channels.ts';
import { PLATFORMS } from '../channels/platforms.ts';
import type { AppContext } from '../context.ts';
import type { MessageRow } from '../db/schema.ts';
import { errors } from '../errors.ts';
import { ajv, ajvDetails } from '../http/validate.ts';
import { isUuid } from '../ids.ts';
import { describeClick, type ClickInput } from '../interactions/click.ts';
import { interactionRefusal, INTERACTION_TYPES, type InteractionType } from '../interactions/rules.ts';
import { interactionJson, lastReactionEmoji, recordInteraction } from '../interactions/store.ts';
import { createMessageSchema } from '../message-body/create-message-schema.ts';
import { prepareInboundMedia } from '../media/inbound.ts';
import { recordInbound } from '../messages/inbound.ts';
import { messageJson } from '../messages/message-json.ts';
import { IDENTIFIER_KEY_PATTERN } from '../suppressions/store.ts';

// Aviary's own endpoints for driving a sandbox channel as its contacts would (docs/sandbox.md):
//   POST /channels/{channelId}/sandbox/inbound                              a contact writes in
//   POST /channels/{channelId}/messages/{messageId}/sandbox/interactions    a receiver interacts with a message
// Only channels whose connector is the sandbox accept them: a real provider reports these itself.

const definitions = (createMessageSchema as { definitions: Record<string, unknown> }).definitions;
const ref = (name: string) => ({ $ref: `#/definitions/${name}` });

interface InboundBody {
  contact: { identifierValue: string; identifierKey?: string };
  body: Record<string, unknown>;
  replyTo?: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** A reference to one of Bird's message definitions: `#/definitions/...` here, a component in the OpenAPI document. */
export type DefinitionRef = (name: 'Body' | 'ReplyTo' | 'Meta') => object;

// Written once: these validate the requests and, with the references pointed at components, document them
// (http/openapi/sandbox.ts). The message body, replyTo and meta are Bird's, validated by the same definitions as a send.
export function simulateInboundSchema(refTo: DefinitionRef) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['contact', 'body'],
    properties: {
      contact: {
        type: 'object',
        additionalProperties: false,
        required: ['identifierValue'],
        description: 'Who writes in. Becomes (or finds) a contact of the workspace.',
        properties: {
          identifierValue: { type: 'string', minLength: 1, maxLength: 320, pattern: '\\S' },
          identifierKey: { type: 'string', pattern: IDENTIFIER_KEY_PATTERN, description: 'Default: the platform\'s kind of identifier.' },
        },
      },
      body: refTo('Body'),
      replyTo: refTo('ReplyTo'),
      meta: refTo('Meta'),
    },
  };
}

type ReactionAction = 'react' | 'unreact';

interface InteractionBody extends ClickInput {
  type: InteractionType;
  contact?: { identifierValue: string };
  emoji?: string;
  action?: ReactionAction | { type: ReactionAction };
}

const reactionAction = { type: 'string', enum: ['react', 'unreact'] };

export const simulateInteractionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: [...INTERACTION_TYPES], description: 'Refused (422) on a platform that never reports it.' },
    contact: {
      type: 'object',
      additionalProperties: false,
      required: ['identifierValue'],
      description: 'Which receiver interacts; default the first.',
      properties: { identifierValue: { type: 'string', minLength: 1, maxLength: 320 } },
    },
    emoji: { type: 'string', minLength: 1, maxLength: 32, description: '`reaction` only: the emoji; required to react.' },
    action: {
      description: '`reaction` only: `react` (default) or `unreact`. Unreacting without an `emoji` takes back the contact\'s last reaction.',
      anyOf: [reactionAction, { type: 'object', additionalProperties: false, required: ['type'], properties: { type: reactionAction } }],
    },
    item: { type: 'integer', minimum: 0, maximum: 10_000, description: '`clicked` only: index of the clicked action (0-based).' },
    card: { type: 'integer', minimum: 0, maximum: 10_000, description: '`clicked` only: index of the card (carousel item, list section) the action is on.' },
    payload: { type: 'string', minLength: 1, maxLength: 1024, description: '`clicked` only: the payload of the clicked item (Apple Messages).' },
    link: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      description: '`clicked` only: the tracked link that was clicked (email).',
      properties: { url: { type: 'string', minLength: 1, maxLength: 2048, format: 'uri' }, name: { type: 'string', maxLength: 1024 } },
    },
    time: {
      type: 'object',
      additionalProperties: false,
      required: ['startTime', 'duration'],
      description: '`clicked` only: the slot picked in a time picker (Apple Messages).',
      properties: { startTime: { type: 'string', format: 'date-time' }, duration: { type: 'integer', minimum: 0, maximum: 31_536_000 } },
    },
  },
};

const validateInbound = ajv.compile<InboundBody>({
  $id: 'https://aviary.dev/schemas/sandbox-inbound.json',
  ...simulateInboundSchema(ref),
  definitions,
});
const validateInteraction = ajv.compile<InteractionBody>({ $id: 'https://aviary.dev/schemas/sandbox-interaction.json', ...simulateInteractionSchema });

function check<T>(validate: ((v: unknown) => boolean) & { errors?: unknown }, body: unknown): T {
  if (body === undefined) throw errors.badRequest('A JSON request body is required');
  let ok: boolean;
  try {
    ok = validate(body);
  } catch {
    throw errors.invalidPayload({ '.': ['could not be validated'] });
  }
  if (!ok) throw errors.invalidPayload(ajvDetails(validate.errors as Parameters<typeof ajvDetails>[0], body));
  return body as T;
}

// An emoji, a flag (regional indicators) or a keycap; a reaction is never plain text.
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;

const CLICK_FIELDS = ['item', 'card', 'payload', 'link', 'time'] as const;
const REACTION_FIELDS = ['emoji', 'action'] as const;

async function sandboxChannel(ctx: AppContext, workspaceId: string, channelId: string): Promise<Channel> {
  const channel = isUuid(channelId) ? await ctx.channels.get(workspaceId, channelId) : undefined;
  if (!channel) throw errors.notFound('channel');
  if (channel.connectorType !== 'sandbox') {
    throw errors.conflict(`Simulation is only available on sandbox channels; this channel's connector is "${channel.connectorType}"`);
  }
  return channel;
}

function sameIdentifier(key: string, a: string, b: string): boolean {
  return key === 'emailaddress' ? a.trim().toLowerCase() === b.trim().toLowerCase() : a.trim() === b.trim();
}

export function simulateRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Params: { workspaceId: string; channelId: string } }>('/channels/:channelId/sandbox/inbound', async (request, reply) => {
    const channel = await sandboxChannel(ctx, request.principal.workspace.id, request.params.channelId);
    const input = check<InboundBody>(validateInbound, request.body);
    if (channel.status !== 'active') throw errors.channelInactive();
    const key = (input.contact.identifierKey ?? PLATFORMS[channel.platform].identifierKey).toLowerCase();
    const value = key === 'emailaddress' ? input.contact.identifierValue.trim().toLowerCase() : input.contact.identifierValue.trim();
    // Media in the body are stored by Aviary and their URLs replaced by Aviary's own.
    const { id, at, body } = await prepareInboundMedia(ctx, channel, input.body);
    const row = await ctx.db.transaction().execute((trx) =>
      recordInbound(trx, ctx.outbox, channel, {
        id,
        at,
        contact: { key, value },
        body,
        replyTo: input.replyTo ?? null,
        meta: input.meta ?? null,
      }),
    );
    return reply.code(201).send(messageJson(row));
  });

  app.post<{ Params: { workspaceId: string; channelId: string; messageId: string } }>(
    '/channels/:channelId/messages/:messageId/sandbox/interactions',
    async (request, reply) => {
      const ws = request.principal.workspace.id;
      const channel = await sandboxChannel(ctx, ws, request.params.channelId);
      const input = check<InteractionBody>(validateInteraction, request.body);

      const refusal = interactionRefusal(input.type, channel.platform);
      if (refusal) throw errors.invalidPayload({ '.type': [refusal] });
      const misplaced: Record<string, string[]> = {};
      const fields = input.type === 'clicked' ? CLICK_FIELDS : input.type === 'reaction' ? REACTION_FIELDS : [];
      for (const f of [...CLICK_FIELDS, ...REACTION_FIELDS]) {
        if ((input as unknown as Record<string, unknown>)[f] !== undefined && !(fields as readonly string[]).includes(f)) {
          misplaced[`.${f}`] = [`is not used by a "${input.type}" interaction`];
        }
      }
      if (Object.keys(misplaced).length) throw errors.invalidPayload(misplaced);

      const messageId = request.params.messageId;
      const message: MessageRow | undefined = isUuid(messageId)
        ? await ctx.db
            .selectFrom('messages')
            .selectAll()
            .where('workspace_id', '=', ws)
            .where('channel_id', '=', channel.id)
            .where('id', '=', messageId)
            .executeTakeFirst()
        : undefined;
      if (!message) throw errors.notFound('message');
      if (message.direction !== 'outgoing') throw errors.conflict('Interactions happen on outgoing messages; this message is incoming');
      if (message.status !== 'sent' && message.status !== 'delivered') {
        throw errors.conflict(`Interactions happen on messages that were sent or delivered; this message is ${message.status}`);
      }

      const receivers = message.receiver.contacts ?? [];
      let contact = receivers[0];
      if (input.contact) {
        contact = receivers.find((c) => sameIdentifier(c.identifierKey, c.identifierValue, input.contact!.identifierValue))!;
        if (!contact) throw errors.invalidPayload({ '.contact.identifierValue': ['is not a receiver of this message'] });
      }
      if (!contact) throw errors.conflict('The message has no receiver contact to interact');

      let details: string | undefined;
      let metadata: Record<string, unknown> | undefined;
      let button: { text: string; payload: string } | undefined;
      if (input.type === 'reaction') {
        const action: ReactionAction = typeof input.action === 'object' ? input.action.type : input.action ?? 'react';
        let emoji = input.emoji;
        if (emoji !== undefined && !EMOJI.test(emoji)) throw errors.invalidPayload({ '.emoji': ['must be an emoji'] });
        if (action === 'react' && emoji === undefined) throw errors.invalidPayload({ '.emoji': ['is required to react'] });
        // Unreacting takes back the contact's last reaction when no emoji is named.
        emoji ??= (await lastReactionEmoji(ctx.db, ws, message.id, contact.id)) ?? '';
        metadata = { reaction: { emoji, action } };
      } else if (input.type === 'clicked') {
        const parts = (message.parts as unknown[] | null)?.length ?? 0;
        const click = describeClick(channel.platform, message.body as Parameters<typeof describeClick>[1], input, parts);
        details = click.details;
        metadata = click.metadata;
        button = click.button;
      }

      const at = ctx.clock.now();
      const result = await ctx.db.transaction().execute(async (trx) => {
        const interaction = await recordInteraction(trx, ctx.outbox, channel, message, { type: input.type, contact, details, metadata, at });
        // A WhatsApp button press reaches the business as an inbound text message carrying the pressed
        // button as a postback, in reply to the clicked message ({type: "click", order: 0}).
        const inbound =
          channel.platform === 'whatsapp' && input.type === 'clicked' && button
            ? await recordInbound(trx, ctx.outbox, channel, {
                contact: { key: contact.identifierKey, value: contact.identifierValue },
                body: {
                  type: 'text',
                  text: {
                    text: button.text || button.payload,
                    actions: [{ type: 'postback', postback: { text: button.text || button.payload, payload: button.payload } }],
                  },
                },
                replyTo: { id: message.id, order: 0, type: 'click' },
                at,
              })
            : undefined;
        return { interaction, inbound };
      });
      if (result.inbound) reply.header('x-aviary-inbound-message-id', result.inbound.id);
      return reply.code(201).send(interactionJson(result.interaction));
    },
  );
}

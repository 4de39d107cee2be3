import type { Platform } from '../channels/platforms.ts';
import { errors, type ErrorDetails } from '../errors.ts';

// What a click on an outgoing message looks like in Bird's interaction object, per platform:
//
//   RCS (and, by the same rule, WhatsApp, Facebook, Instagram, LINE): the clicked action's position.
//     suggestion  details "item_N_clicked"          N  = index in the message's actions
//     card action details "card_N1_item_N2_clicked" N1 = the card's index, N2 = the action's index on it
//     metadata.button.payload = the action's payload
//   Apple Messages: the clicked item's payload (reply, postback, list picker) or, for a time picker,
//     the picked slot as JSON, in `details` as "item_<payload>_clicked"; metadata.extraInformation
//     carries chargeable_unit, conversation.visibility and useCase (and the slot for a time picker).
//   Email: a tracked link: metadata.link {name, url}.
//
// Indexes are 0-based: Bird's RCS example reports the second action of the first card as
// "card_0_item_1_clicked".

export interface ClickInput {
  item?: number;
  card?: number;
  payload?: string;
  link?: { url: string; name?: string };
  time?: { startTime: string; duration: number };
}

export interface Click {
  details?: string;
  metadata: Record<string, unknown>;
  /** The reply/postback button that was pressed, when there was one (WhatsApp turns it into an inbound message). */
  button?: { text: string; payload: string };
}

interface Action {
  type?: string;
  reply?: { text?: string };
  postback?: { text?: string; payload?: string };
  link?: { text?: string; url?: string };
  [k: string]: unknown;
}

interface Located {
  action: Action;
  item: number;
  card?: number;
}

type Body = { type?: string; [k: string]: unknown } | null;

function content(body: Body): Record<string, unknown> | undefined {
  if (!body || typeof body.type !== 'string') return undefined;
  const c = body[body.type];
  return c && typeof c === 'object' ? (c as Record<string, unknown>) : undefined;
}

function actionsOf(node: unknown): Action[] {
  const a = (node as { actions?: unknown } | undefined)?.actions;
  return Array.isArray(a) ? (a.filter((x) => x && typeof x === 'object') as Action[]) : [];
}

function cardsOf(body: Body): Record<string, unknown>[] {
  const items = content(body)?.items;
  return Array.isArray(items) ? (items.filter((x) => x && typeof x === 'object') as Record<string, unknown>[]) : [];
}

/**
 * Every clickable action of a message with its position: top-level actions by index; card (carousel
 * item, list section) actions by card and index. A list without top-level actions numbers its
 * sections' rows straight through as well, so `item` alone can address them.
 */
function allActions(body: Body): Located[] {
  const out: Located[] = [];
  const top = actionsOf(content(body));
  top.forEach((action, item) => out.push({ action, item }));
  if (body?.type === 'list' && top.length === 0) {
    cardsOf(body).flatMap((c) => actionsOf(c)).forEach((action, item) => out.push({ action, item }));
  } else {
    cardsOf(body).forEach((c, card) => actionsOf(c).forEach((action, item) => out.push({ action, item, card })));
  }
  return out;
}

function locate(body: Body, item: number, card: number | undefined): Located | undefined {
  if (card !== undefined) {
    const action = actionsOf(cardsOf(body)[card])[item];
    return action && { action, item, card };
  }
  const top = actionsOf(content(body));
  if (top.length) return top[item] && { action: top[item], item };
  if (body?.type === 'list') {
    const flat = cardsOf(body).flatMap((c) => actionsOf(c));
    return flat[item] && { action: flat[item], item };
  }
  return undefined;
}

function buttonOf(a: Action): { text: string; payload: string } | undefined {
  if (a.type === 'postback' && a.postback) {
    const text = a.postback.text ?? a.postback.payload ?? '';
    return { text, payload: a.postback.payload ?? text };
  }
  if (a.type === 'reply' && a.reply) return { text: a.reply.text ?? '', payload: a.reply.text ?? '' };
  return undefined;
}

/** Go's time.Time.String() in UTC, which is how Bird renders an Apple time-picker slot: "2025-12-03 15:55:28.398 +0000 UTC". */
export function goTimeString(d: Date): string {
  const iso = d.toISOString(); // 2025-12-03T15:55:28.398Z
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${ms}` : ''} +0000 UTC`;
}

export function describeClick(platform: Platform, body: Body, input: ClickInput, partsCount: number): Click {
  const problems: ErrorDetails = {};
  const fail = (path: string, message: string): never => {
    problems[path] = [message];
    throw errors.invalidPayload(problems);
  };
  if (input.card !== undefined && input.item === undefined) fail('.item', 'is required with card');
  if (input.time && platform !== 'apple-business-chat') fail('.time', 'is only reported by Apple Messages (time picker)');

  let located: Located | undefined;
  if (input.item !== undefined) {
    located = locate(body, input.item, input.card);
    if (!located) fail(input.card !== undefined ? '.card' : '.item', 'the message has no action at this position');
    if (input.payload !== undefined) {
      const b = buttonOf(located!.action);
      if (b && b.payload !== input.payload) fail('.payload', `does not match the action at this position (payload "${b.payload}")`);
    }
  } else if (input.payload !== undefined) {
    const all = allActions(body);
    located = all.find((l) => buttonOf(l.action)?.payload === input.payload);
    // A message with buttons must have one with this payload; without any (templates, Apple list
    // and time pickers), the payload is taken as given.
    if (!located && all.some((l) => buttonOf(l.action))) fail('.payload', 'no action of the message has this payload');
  }
  const action = located?.action;
  const button = action ? buttonOf(action) : input.payload !== undefined ? { text: input.payload, payload: input.payload } : undefined;
  const link =
    input.link ??
    (action?.type === 'link' && action.link?.url ? { url: action.link.url, ...(action.link.text ? { name: action.link.text } : {}) } : undefined);

  if (platform === 'email') {
    if (!link) fail('.link', 'a click on an email is a click on a link: give link.url, or item pointing at a link action');
    return { metadata: { link: { ...(link!.name !== undefined ? { name: link!.name } : {}), url: link!.url } } };
  }

  if (platform === 'apple-business-chat') {
    const extra: Record<string, string> = { chargeable_unit: String(Math.max(partsCount, 1)), 'conversation.visibility': 'public' };
    if (input.time) {
      const start = new Date(input.time.startTime);
      const duration = String(input.time.duration);
      const identifier = JSON.stringify({ duration, startTime: goTimeString(start) });
      return {
        details: `item_${identifier}_clicked`,
        metadata: {
          extraInformation: sortKeys({ ...extra, duration, identifier, startTime: String(Math.floor(start.getTime() / 1000)), useCase: 'conversation' }),
        },
      };
    }
    // A quick reply carries no payload of its own; Apple identifies it by its position.
    const payload = action?.type === 'reply' ? String(located!.item) : button?.payload;
    if (payload === undefined) fail('.', 'a click on Apple Messages needs item (an action of the message), payload, or time');
    return {
      details: `item_${payload}_clicked`,
      metadata: { extraInformation: sortKeys({ ...extra, useCase: 'conversation' }), button: { payload } },
      ...(button ? { button } : {}),
    };
  }

  // RCS, WhatsApp, Facebook, Instagram, LINE.
  if (!located && !button && !link) fail('.', 'a click needs item (and card, for a card action), payload, or link');
  const metadata: Record<string, unknown> = {};
  if (link) metadata.link = { ...(link.name !== undefined ? { name: link.name } : {}), url: link.url };
  if (button) metadata.button = { payload: button.payload };
  const details = located
    ? located.card !== undefined
      ? `card_${located.card}_item_${located.item}_clicked`
      : `item_${located.item}_clicked`
    : undefined;
  return { ...(details ? { details } : {}), metadata, ...(button ? { button } : {}) };
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

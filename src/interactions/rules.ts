import type { Platform } from '../channels/platforms.ts';

// Which interactions happen on which platform. Bird's "Message status and interactions" page lists,
// per interaction type, the platforms that report it; the RCS and Apple Messages interaction pages
// add theirs. A platform not named for a type never reports it, so Aviary refuses to record it.
//
//   read                 WhatsApp, Facebook, Instagram, Line (+ RCS)
//   opened               Email
//   clicked              Email, WhatsApp, Facebook, Instagram, Line (+ RCS, Apple Messages)
//   reported-as-spam     Email
//   unsubscribe-request  Email
//   delete-request       none ("-" in Bird's table)
//   reaction             WhatsApp, Facebook, Instagram

export const INTERACTION_TYPES = [
  'read',
  'opened',
  'clicked',
  'reported-as-spam',
  'unsubscribe-request',
  'delete-request',
  'reaction',
] as const;

export type InteractionType = (typeof INTERACTION_TYPES)[number];

export const INTERACTION_PLATFORMS: Record<InteractionType, readonly Platform[]> = {
  read: ['whatsapp', 'facebook', 'instagram', 'line', 'rcs'],
  opened: ['email'],
  clicked: ['email', 'whatsapp', 'facebook', 'instagram', 'line', 'rcs', 'apple-business-chat'],
  'reported-as-spam': ['email'],
  'unsubscribe-request': ['email'],
  'delete-request': [],
  reaction: ['whatsapp', 'facebook', 'instagram'],
};

export function isInteractionType(value: unknown): value is InteractionType {
  return typeof value === 'string' && (INTERACTION_TYPES as readonly string[]).includes(value);
}

/** Why `type` cannot happen on `platform`, or undefined when it can. */
export function interactionRefusal(type: InteractionType, platform: Platform): string | undefined {
  const allowed = INTERACTION_PLATFORMS[type];
  if (allowed.includes(platform)) return undefined;
  if (allowed.length === 0) return `interaction "${type}" is not reported on any platform`;
  return `interaction "${type}" is not supported on ${platform}; it is reported on: ${allowed.join(', ')}`;
}

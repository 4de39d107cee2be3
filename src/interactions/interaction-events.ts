import { PLATFORM_NAMES, PLATFORMS } from '../channels/platforms.ts';
import type { Db } from '../db/database.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { EventSpec } from '../webhooks/events.ts';
import { INTERACTION_TYPES } from './rules.ts';

// The webhook event of interactions: `<platform>.interaction` for every interaction on an outgoing
// message; the outbox (webhooks/) stores and delivers it.

export function interactionEventSpecs(): [string, EventSpec][] {
  return PLATFORM_NAMES.map((platform): [string, EventSpec] => [
    `${platform}.interaction`,
    {
      service: 'channels',
      filters: ['channelId', 'interactionType', 'platformId'],
      values: { interactionType: INTERACTION_TYPES, platformId: [PLATFORMS[platform].platformId] },
    },
  ]);
}

/** `<platform>.interaction` for one interaction on an outgoing message; payload is Bird's interaction object. */
export function emitInteractionEvent(
  trx: Db,
  outbox: Outbox,
  channel: { workspaceId: string; id: string; platform: string; platformId: string },
  message: { id: string; notification_url: string | null },
  type: string,
  payload: unknown,
): Promise<number> {
  return outbox.emit(trx, [
    {
      workspaceId: channel.workspaceId,
      event: `${channel.platform}.interaction`,
      channelId: channel.id,
      platformId: channel.platformId,
      interactionType: type,
      orderKey: message.id,
      notificationUrl: message.notification_url,
      payload: () => payload,
    },
  ]);
}

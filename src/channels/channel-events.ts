import type { Db } from '../db/database.ts';
import type { Outbox } from '../webhooks/emit.ts';
import type { EventSpec } from '../webhooks/events.ts';
import { PLATFORMS } from './platforms.ts';

// The webhook events of channels, channel.created and channel.updated; the outbox (webhooks/) stores
// and delivers them.

export function channelEventSpecs(): [string, EventSpec][] {
  const platformId = Object.values(PLATFORMS).map((p) => p.platformId);
  return [
    ['channel.created', { service: 'channels', filters: ['platformId'], values: { platformId } }],
    ['channel.updated', { service: 'channels', filters: ['channelId', 'platformId'], values: { platformId } }],
  ];
}

/** channel.created / channel.updated; payload is the channel as the API shows it. */
export function emitChannelEvent(
  trx: Db,
  outbox: Outbox,
  event: 'channel.created' | 'channel.updated',
  channel: { workspaceId: string; id: string; platformId: string },
  payload: unknown,
): Promise<number> {
  return outbox.emit(trx, [
    { workspaceId: channel.workspaceId, event, channelId: channel.id, platformId: channel.platformId, orderKey: channel.id, payload: () => payload },
  ]);
}

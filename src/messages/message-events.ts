import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { PLATFORM_NAMES, PLATFORMS, type Platform } from '../channels/platforms.ts';
import type { Outbox, WebhookEvent } from '../webhooks/emit.ts';
import type { EventSpec } from '../webhooks/events.ts';
import { MESSAGE_STATUSES } from './lifecycle.ts';
import { messageJson } from './message-json.ts';

// The webhook events of messages: `<platform>.outbound` for every status change of an outgoing
// message, `<platform>.inbound` for every incoming one. The outbox (webhooks/) stores and delivers
// them; what they are and what they carry is the messages feature's business.

/** The events above and the filters each accepts, for every platform. */
export function messageEventSpecs(): [string, EventSpec][] {
  return PLATFORM_NAMES.flatMap((platform): [string, EventSpec][] => {
    const platformId = [PLATFORMS[platform].platformId];
    return [
      [`${platform}.inbound`, { service: 'channels', filters: ['channelId', 'platformId'], values: { platformId } }],
      [`${platform}.outbound`, { service: 'channels', filters: ['channelId', 'messageStatus', 'platformId'], values: { messageStatus: MESSAGE_STATUSES, platformId } }],
    ];
  });
}

/** Bird's message payload: the message; `<platform>.outbound` carries the body on SMS only (as Bird). */
export function messagePayload(row: MessageRow): Record<string, unknown> {
  const m = messageJson(row);
  if (row.direction === 'outgoing' && row.platform !== 'sms') delete m.body;
  return m;
}

/** `<platform>.outbound` for outgoing rows (their current status), `<platform>.inbound` for incoming ones. */
export function messageEvents(rows: MessageRow[]): WebhookEvent[] {
  return rows.map((row) => {
    const outgoing = row.direction === 'outgoing';
    return {
      workspaceId: row.workspace_id,
      event: `${row.platform}.${outgoing ? 'outbound' : 'inbound'}`,
      channelId: row.channel_id,
      platformId: PLATFORMS[row.platform as Platform]?.platformId ?? null,
      messageStatus: row.status,
      orderKey: outgoing ? row.id : null,
      notificationUrl: outgoing ? row.notification_url : null,
      payload: () => messagePayload(row),
    };
  });
}

export function emitMessageEvents(trx: Db, outbox: Outbox, rows: MessageRow[]): Promise<number> {
  return outbox.emit(trx, messageEvents(rows));
}

import { sql } from 'kysely';
import type { Channel } from '../channels/channels.ts';
import type { Db } from '../db/database.ts';

// Bird's getChannelContactInformation: what a channel knows about one contact.
//   GET /workspaces/{ws}/channels/{ch}/contacts/{contactId}
//   -> {serviceWindowExpireAt: date-time | null, isPermanentSession: boolean, metadata: {string: string}}
//
// On WhatsApp the customer-service window closes 24 hours after the contact's last inbound message
// (the same rule the dispatcher applies: dispatch/prepare.ts); null when the contact never wrote.
// Other platforms have no such window in Aviary: their session is permanent and the expiry null.

/** WhatsApp's customer-service window: how long after the contact's last inbound message free-form messages may go out. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface ChannelContactInformation {
  serviceWindowExpireAt: string | null;
  isPermanentSession: boolean;
  metadata: Record<string, string>;
}

export const WINDOWED_PLATFORMS = new Set(['whatsapp']);

export async function channelContactInformation(db: Db, channel: Channel, contactId: string): Promise<ChannelContactInformation> {
  const r = await sql<{ last_inbound_at: Date | null; metadata: unknown }>`
    select last_inbound_at, metadata from channel_contacts
    where workspace_id = ${channel.workspaceId} and channel_id = ${channel.id} and contact_id = ${contactId}`.execute(db);
  const row = r.rows[0];
  const windowed = WINDOWED_PLATFORMS.has(channel.platform);
  const last = row?.last_inbound_at ? new Date(row.last_inbound_at) : null;
  return {
    serviceWindowExpireAt: windowed && last ? new Date(last.getTime() + SERVICE_WINDOW_MS).toISOString() : null,
    isPermanentSession: !windowed,
    metadata: stringValues(row?.metadata),
  };
}

// Bird's schema allows only string values in metadata; anything else stored there is rendered as JSON.
function stringValues(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

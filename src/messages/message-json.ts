import type { MessageRow } from '../db/schema.ts';

// A stored message as Bird's `Message` object. Optional fields are omitted rather than sent as null
// where Bird's schema does not allow null (scheduledFor, replyTo, reference, ...).

export type MessageJson = Record<string, unknown>;

export function messageJson(row: MessageRow): MessageJson {
  const m: MessageJson = {
    id: row.id,
    channelId: row.channel_id,
    sender: row.sender,
    receiver: row.receiver,
  };
  if (row.body != null) m.body = row.body;
  if (row.template != null) m.template = row.template;
  if (row.meta != null) m.meta = row.meta;
  if (row.reference != null) m.reference = row.reference;
  if (row.parts != null) m.parts = row.parts;
  m.status = row.status;
  if (row.reason != null) m.reason = row.reason;
  if (row.details != null) m.details = row.details;
  if (row.failure != null) m.failure = row.failure;
  m.direction = row.direction;
  if (row.origin != null) m.origin = row.origin;
  if (row.reply_to != null) m.replyTo = row.reply_to;
  m.tags = row.tags;
  if (row.short_links != null) m.shortLinks = row.short_links;
  if (row.scheduled_for != null) m.scheduledFor = row.scheduled_for.toISOString();
  if (row.batch_id != null) m.batchId = row.batch_id;
  if (row.chargeable_units != null) m.chargeableUnits = row.chargeable_units;
  m.lastStatusAt = row.last_status_at.toISOString();
  m.createdAt = row.created_at.toISOString();
  m.updatedAt = row.updated_at.toISOString();
  return m;
}

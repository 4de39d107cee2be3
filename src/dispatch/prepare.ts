import { sql } from 'kysely';
import type { Channel } from '../channels/channels.ts';
import type { ChannelCache } from '../channels/channel-cache.ts';
import type { Connector, OutboundMessage } from '../connectors/connector.ts';
import type { Db } from '../db/database.ts';
import type { MessageRow } from '../db/schema.ts';
import { checkPlatformMedia, loadMediaInfo } from '../media/platform-media.ts';
import { failures } from '../connectors/failures.ts';
import { PENDING_STATUSES } from '../messages/lifecycle.ts';
import type { Transition } from '../messages/status-writer.ts';
import { SERVICE_WINDOW_MS } from '../interactions/channel-contact.ts';

// Before anything is sent, each claimed message is checked against what can stop it: its schedule,
// its validity, the suppression list, the WhatsApp service window and what the connector can carry.
// The outcome is a transition (scheduled, skipped, sending_failed, processing), a reschedule, or both
// `processing` and a place in the send list.

export interface Prepared {
  transitions: Transition[];
  reschedules: { workspaceId: string; messageId: string; nextAttemptAt: Date | null }[];
  sends: { row: MessageRow; connector: Connector; message: OutboundMessage }[];
}

export async function prepare(
  db: Db,
  claimed: Array<MessageRow & { started?: boolean }>,
  deps: { channels: ChannelCache; connectors: Map<string, Connector>; now: Date; inFlightMs: number; takeSendSlot: (channel: Channel) => number },
): Promise<Prepared> {
  const { now } = deps;
  const out: Prepared = { transitions: [], reschedules: [], sends: [] };
  // Each transition applies only if the message is still in the status it was claimed in: a DELETE
  // that cancelled it in between wins, and the message is then not sent.
  const fail = (row: MessageRow, failure: Transition['failure'], reason?: string) =>
    out.transitions.push({ workspaceId: row.workspace_id, messageId: row.id, from: [row.status], status: 'sending_failed', at: now, failure, reason: reason ?? failure!.description, nextAttemptAt: null });

  // A message the claim started passed the same suppression check in the claim's statement.
  const suppressed = await suppressedSet(db, claimed.filter((r) => !r.started));
  const windows = await serviceWindows(db, claimed);
  const media = await loadMediaInfo(db, claimed);

  for (const row of claimed) {
    if (!PENDING_STATUSES.includes(row.status)) {
      out.reschedules.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: null });
      continue;
    }
    const channel = await deps.channels.get(row.workspace_id, row.channel_id);
    const connector = channel && deps.connectors.get(channel.connectorType);
    const contacts = row.receiver.contacts ?? [];
    const body = row.body as OutboundMessage['body'];
    if (!channel) {
      fail(row, failures.invalidChannelConfiguration('the channel no longer exists'));
      continue;
    }
    if (!connector) {
      fail(row, failures.invalidChannelConfiguration(`unknown connector type "${channel.connectorType}"`));
      continue;
    }
    if (channel.status !== 'active') {
      fail(row, failures.invalidChannelConfiguration('the channel is inactive'));
      continue;
    }
    const scheduledFor = row.scheduled_for?.getTime();
    if (scheduledFor !== undefined && scheduledFor > now.getTime()) {
      if (row.status === 'scheduled') out.reschedules.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: row.scheduled_for! });
      else out.transitions.push({ workspaceId: row.workspace_id, messageId: row.id, from: [row.status], status: 'scheduled', at: now, nextAttemptAt: row.scheduled_for! });
      continue;
    }
    const validFrom = Math.max(row.created_at.getTime(), scheduledFor ?? 0);
    if (row.validity != null && validFrom + row.validity * 1000 <= now.getTime()) {
      fail(row, failures.expired());
      continue;
    }
    if (!row.started && contacts.some((c) => suppressed.has(`${row.workspace_id}|${c.identifierKey}|${c.identifierValue}`))) {
      out.transitions.push({ workspaceId: row.workspace_id, messageId: row.id, from: [row.status], status: 'skipped', at: now, reason: 'suppressed', nextAttemptAt: null });
      continue;
    }
    if (row.platform === 'whatsapp' && row.template == null) {
      const last = windows.get(`${row.workspace_id}|${row.channel_id}|${contacts[0]?.id}`);
      if (!last || last.getTime() + SERVICE_WINDOW_MS <= now.getTime()) {
        fail(row, failures.reEngagementRequired(), 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.');
        continue;
      }
    }
    const unsupported = unsupportedParts(connector, channel, body);
    if (unsupported) {
      fail(row, failures.unsupportedType(unsupported, channel.platformId));
      continue;
    }
    const badMedia = checkPlatformMedia(row, channel.platform, channel.platformId, media);
    if (badMedia) {
      fail(row, badMedia.failure, badMedia.reason);
      continue;
    }
    const waitMs = deps.takeSendSlot(channel);
    if (waitMs > 0) {
      out.reschedules.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: new Date(now.getTime() + waitMs) });
      continue;
    }
    // `processing` holds the message for the duration of the send: if this process dies now, the
    // message becomes due again once inFlightMs has passed and another worker retries it.
    const inFlightUntil = new Date(now.getTime() + deps.inFlightMs);
    // Started by the claim: already `processing` and held. A retry (or a crashed worker's message) is
    // already `processing`: held again without a new history entry.
    if (!row.started) {
      if (row.status === 'processing') out.reschedules.push({ workspaceId: row.workspace_id, messageId: row.id, nextAttemptAt: inFlightUntil });
      else out.transitions.push({ workspaceId: row.workspace_id, messageId: row.id, from: [row.status], status: 'processing', at: now, nextAttemptAt: inFlightUntil });
    }
    out.sends.push({
      row,
      connector,
      message: {
        id: row.id,
        workspaceId: row.workspace_id,
        channel,
        platform: channel.platform,
        sender: row.sender.connector?.identifierValue ?? '',
        recipients: contacts.map((c) => ({
          contactId: c.id,
          identifierKey: c.identifierKey,
          identifierValue: c.identifierValue,
          platformAddress: c.platformAddress ?? c.identifierValue,
          type: c.type,
        })),
        body,
        template: row.template as Record<string, unknown> | null,
        meta: row.meta as Record<string, unknown> | null,
        reference: row.reference,
        attempt: row.attempts + 1,
      },
    });
  }
  return out;
}

function unsupportedParts(connector: Connector, channel: Channel, body: OutboundMessage['body']): string | undefined {
  const caps = connector.capabilities(channel.platform);
  if (!caps) return `${connector.type} does not serve ${channel.platform}`;
  if (!body) return undefined;
  if (!caps.bodyTypes.has(body.type)) return `body type "${body.type}" is not supported on ${channel.platform}`;
  for (const action of collectActions(body)) {
    if (!caps.actions.has(action)) return `action "${action}" is not supported on ${channel.platform}`;
  }
  return undefined;
}

function collectActions(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) collectActions(v, found);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'actions' && Array.isArray(v)) for (const a of v) if (a && typeof a.type === 'string') found.add(a.type);
      collectActions(v, found);
    }
  }
  return found;
}

async function suppressedSet(db: Db, rows: MessageRow[]): Promise<Set<string>> {
  const keys: string[][] = [[], [], []];
  for (const r of rows) {
    for (const c of r.receiver.contacts ?? []) {
      keys[0].push(r.workspace_id);
      keys[1].push(c.identifierKey);
      keys[2].push(c.identifierValue);
    }
  }
  if (keys[0].length === 0) return new Set();
  const result = await sql<{ workspace_id: string; identifier_key: string; identifier_value: string }>`
    select s.workspace_id, s.identifier_key, s.identifier_value from suppressions s
    join unnest(${keys[0]}::uuid[], ${keys[1]}::text[], ${keys[2]}::text[]) as t(w, k, v)
      on s.workspace_id = t.w and s.identifier_key = t.k and s.identifier_value = t.v`.execute(db);
  return new Set(result.rows.map((r) => `${r.workspace_id}|${r.identifier_key}|${r.identifier_value}`));
}

async function serviceWindows(db: Db, rows: MessageRow[]): Promise<Map<string, Date>> {
  const wa = rows.filter((r) => r.platform === 'whatsapp' && r.template == null);
  const out = new Map<string, Date>();
  if (wa.length === 0) return out;
  const contactIds = wa.map((r) => r.receiver.contacts?.[0]?.id ?? '00000000-0000-0000-0000-000000000000');
  const result = await sql<{ workspace_id: string; channel_id: string; contact_id: string; last_inbound_at: Date | null }>`
    select cc.workspace_id, cc.channel_id, cc.contact_id, cc.last_inbound_at from channel_contacts cc
    join unnest(${wa.map((r) => r.workspace_id)}::uuid[], ${wa.map((r) => r.channel_id)}::uuid[], ${contactIds}::uuid[]) as t(w, c, k)
      on cc.workspace_id = t.w and cc.channel_id = t.c and cc.contact_id = t.k`.execute(db);
  for (const r of result.rows) if (r.last_inbound_at) out.set(`${r.workspace_id}|${r.channel_id}|${r.contact_id}`, r.last_inbound_at);
  return out;
}

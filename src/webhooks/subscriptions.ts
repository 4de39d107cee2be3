import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { keysetPage, pageOrder, type PageRequest } from '../db/keyset-page.ts';
import { isUuid, uuidv7 } from '../ids.ts';
import { allowedFilterValues, FILTER_KEYS, REPEATABLE_KEYS, type EventCatalogue, type FilterKey, type Service } from './events.ts';
import type { Outbox } from './emit.ts';
import { generateSigningKey } from './sign.ts';

// Webhook subscriptions (Bird's Notifications API): storage and the rules a subscription must follow.
//   - the event must be one Aviary emits for the service (the catalogue the outbox was given);
//   - filter keys must be ones the event has; values of the right kind; one channelId at most;
//     messageStatus, interactionType and platformId may repeat (any of the values matches);
//   - at most MAX_PER_FILTER_COMBINATION subscriptions per workspace with the same event and the same
//     set of filters (Bird's limit), checked under a per-workspace lock so concurrent creates cannot
//     both slip under it.

export const MAX_PER_FILTER_COMBINATION = 5;

export interface EventFilter {
  key: string;
  value: string;
}

export interface SubscriptionRow {
  workspace_id: string;
  id: string;
  organization_id: string;
  service: string;
  event: string;
  event_filters: EventFilter[];
  filter_signature: string;
  filter_channel_id: string | null;
  filter_statuses: string[] | null;
  filter_interaction_types: string[] | null;
  filter_platform_ids: string[] | null;
  template: string | null;
  url: string;
  signing_key: string;
  standard_webhooks: boolean;
  status: 'active' | 'inactive';
  status_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface NormalizedFilters {
  filters: EventFilter[];
  signature: string;
  channelId: string | null;
  statuses: string[] | null;
  interactionTypes: string[] | null;
  platformIds: string[] | null;
}

/** Checks filters against the event; returns them normalized, or throws 422 with JSON-path details. */
export function normalizeFilters(events: EventCatalogue, event: string, input: EventFilter[] | null | undefined): NormalizedFilters {
  const spec = events.get(event)!;
  const details: ErrorDetails = {};
  const add = (path: string, message: string) => (details[path] ??= []).push(message);
  const seen = new Set<string>();
  const filters: EventFilter[] = [];
  const byKey = new Map<FilterKey, string[]>();
  let channelFilters = 0;
  (input ?? []).forEach((f, i) => {
    const key = f.key as FilterKey;
    if (!(FILTER_KEYS as readonly string[]).includes(f.key) || !spec.filters.includes(key)) {
      add(`.eventFilters[${i}].key`, `must be one of the filters of event "${event}": ${spec.filters.join(', ')}`);
      return;
    }
    const allowed = allowedFilterValues(key, spec);
    if (allowed && !allowed.includes(f.value)) {
      add(`.eventFilters[${i}].value`, `must be one of: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
      return;
    }
    if (key === 'channelId' && !isUuid(f.value)) {
      add(`.eventFilters[${i}].value`, 'must be a channel id (UUID)');
      return;
    }
    const value = key === 'channelId' ? f.value.toLowerCase() : f.value;
    // Bird allows one channelId per subscription, so a second one is refused even when it repeats the
    // first: a client sending two means to subscribe to two channels, which takes two subscriptions.
    if (key === 'channelId') channelFilters++;
    if (seen.has(`${key}=${value}`)) return; // the same filter twice means it once
    seen.add(`${key}=${value}`);
    filters.push({ key, value });
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  });
  const channels = byKey.get('channelId') ?? [];
  if (channelFilters > 1) add('.eventFilters', 'may hold at most one channelId filter');
  for (const k of byKey.keys()) if (!REPEATABLE_KEYS.has(k) && k !== 'channelId' && byKey.get(k)!.length > 1) add('.eventFilters', `may hold at most one ${k} filter`);
  if (Object.keys(details).length) throw errors.invalidPayload(details);
  return {
    filters,
    signature: [...seen].sort().join('\n'),
    channelId: channels[0] ?? null,
    statuses: byKey.get('messageStatus') ?? null,
    interactionTypes: byKey.get('interactionType') ?? null,
    platformIds: byKey.get('platformId') ?? null,
  };
}

/** 422 when the event is not one Aviary emits for the service. */
export function checkEvent(events: EventCatalogue, service: Service, event: string): void {
  const spec = events.get(event);
  if (!spec) throw errors.invalidPayload({ '.event': [`is not an event Aviary emits; events of service "channels" are <platform>.inbound, <platform>.outbound, <platform>.interaction, channel.created and channel.updated`] });
  if (spec.service !== service) {
    throw errors.invalidPayload({ '.event': [`belongs to service "${spec.service}", not "${service}" (Aviary emits no ${service} events)`] });
  }
}

async function lockWorkspace(trx: Db, workspaceId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`aviary:webhook-subscriptions:${workspaceId}`}, 0))`.execute(trx);
}

async function checkChannelExists(trx: Db, workspaceId: string, f: NormalizedFilters): Promise<void> {
  if (!f.channelId) return;
  const found = await trx.selectFrom('channels').select('id').where('workspace_id', '=', workspaceId).where('id', '=', f.channelId).executeTakeFirst();
  if (!found) {
    const i = f.filters.findIndex((x) => x.key === 'channelId');
    throw errors.invalidPayload({ [`.eventFilters[${i}].value`]: ['is not a channel of this workspace'] });
  }
}

async function checkCombinationLimit(trx: Db, workspaceId: string, service: string, event: string, signature: string, except?: string): Promise<void> {
  const r = await sql<{ n: number }>`
    select count(*)::int as n from webhook_subscriptions
    where workspace_id = ${workspaceId} and service = ${service} and event = ${event} and filter_signature = ${signature}
      ${except ? sql`and id <> ${except}` : sql``}`.execute(trx);
  if ((r.rows[0]?.n ?? 0) >= MAX_PER_FILTER_COMBINATION) {
    throw errors.conflict(
      `At most ${MAX_PER_FILTER_COMBINATION} webhook subscriptions may have the same event and the same event filters; this workspace already has ${MAX_PER_FILTER_COMBINATION} for "${event}" with these filters`,
    );
  }
}

export interface NewSubscription {
  organizationId: string;
  service: Service;
  event: string;
  eventFilters?: EventFilter[] | null;
  template?: string | null;
  url: string;
  signingKey?: string;
  standardWebhooks?: boolean;
}

export async function createSubscription(db: Db, outbox: Outbox, workspaceId: string, input: NewSubscription): Promise<SubscriptionRow> {
  checkEvent(outbox.events, input.service, input.event);
  const f = normalizeFilters(outbox.events, input.event, input.eventFilters);
  const created = await db.transaction().execute(async (trx) => {
    await lockWorkspace(trx, workspaceId);
    await checkChannelExists(trx, workspaceId, f);
    await checkCombinationLimit(trx, workspaceId, input.service, input.event, f.signature);
    const now = new Date();
    const r = await sql<SubscriptionRow>`
      insert into webhook_subscriptions (workspace_id, id, organization_id, service, event, event_filters, filter_signature,
        filter_channel_id, filter_statuses, filter_interaction_types, filter_platform_ids, template, url, signing_key,
        standard_webhooks, status, created_at, updated_at)
      values (${workspaceId}, ${uuidv7(now.getTime())}, ${input.organizationId}, ${input.service}, ${input.event},
        ${JSON.stringify(f.filters)}::jsonb, ${f.signature}, ${f.channelId}, ${f.statuses}::text[], ${f.interactionTypes}::text[],
        ${f.platformIds}::text[], ${input.template ?? null}, ${input.url}, ${input.signingKey ?? generateSigningKey()},
        ${input.standardWebhooks ?? false}, 'active', ${now}, ${now})
      returning *`.execute(trx);
    return r.rows[0];
  });
  outbox.forgetSubscriptions(workspaceId);
  return created;
}

export async function getSubscription(db: Db, workspaceId: string, id: string): Promise<SubscriptionRow | undefined> {
  if (!isUuid(id)) return undefined;
  const r = await sql<SubscriptionRow>`select * from webhook_subscriptions where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
}

/** Oldest first, keyset-paginated on the (time-ordered) id. */
export async function listSubscriptions(db: Db, workspaceId: string, page: PageRequest): Promise<{ rows: SubscriptionRow[]; nextPageToken: string | null }> {
  const order = sql.raw(pageOrder(page, 'asc'));
  const cmp = sql.raw(pageOrder(page, 'asc') === 'asc' ? '>' : '<');
  const r = await sql<SubscriptionRow>`
    select * from webhook_subscriptions where workspace_id = ${workspaceId}
      ${page.after ? sql`and id ${cmp} ${page.after.id}` : sql``}
    order by id ${order} limit ${page.limit + 1}`.execute(db);
  return keysetPage(r.rows, page.limit);
}

export interface SubscriptionPatch {
  eventFilters?: EventFilter[] | null;
  template?: string | null;
  url?: string;
  signingKey?: string;
  status?: 'active' | 'inactive';
  standardWebhooks?: boolean;
}

export async function updateSubscription(db: Db, outbox: Outbox, workspaceId: string, id: string, patch: SubscriptionPatch): Promise<SubscriptionRow | undefined> {
  if (!isUuid(id)) return undefined;
  const updated = await db.transaction().execute(async (trx) => {
    await lockWorkspace(trx, workspaceId);
    const current = (await sql<SubscriptionRow>`select * from webhook_subscriptions where workspace_id = ${workspaceId} and id = ${id} for update`.execute(trx)).rows[0];
    if (!current) return undefined;
    let f: NormalizedFilters | undefined;
    if (patch.eventFilters !== undefined) {
      f = normalizeFilters(outbox.events, current.event, patch.eventFilters);
      await checkChannelExists(trx, workspaceId, f);
      if (f.signature !== current.filter_signature) await checkCombinationLimit(trx, workspaceId, current.service, current.event, f.signature, id);
    }
    // Re-activating (by hand) starts the failure count afresh.
    const reactivate = patch.status === 'active';
    const r = await sql<SubscriptionRow>`
      update webhook_subscriptions set
        event_filters = ${f ? sql`${JSON.stringify(f.filters)}::jsonb` : sql`event_filters`},
        filter_signature = ${f ? f.signature : sql`filter_signature`},
        filter_channel_id = ${f ? sql`${f.channelId}::uuid` : sql`filter_channel_id`},
        filter_statuses = ${f ? sql`${f.statuses}::text[]` : sql`filter_statuses`},
        filter_interaction_types = ${f ? sql`${f.interactionTypes}::text[]` : sql`filter_interaction_types`},
        filter_platform_ids = ${f ? sql`${f.platformIds}::text[]` : sql`filter_platform_ids`},
        template = ${patch.template !== undefined ? patch.template : sql`template`},
        url = ${patch.url ?? sql`url`},
        signing_key = ${patch.signingKey ?? sql`signing_key`},
        standard_webhooks = ${patch.standardWebhooks ?? sql`standard_webhooks`},
        status = ${patch.status ?? sql`status`},
        status_reason = ${patch.status !== undefined ? null : sql`status_reason`},
        failing_since = ${reactivate ? null : sql`failing_since`},
        updated_at = ${new Date()}
      where workspace_id = ${workspaceId} and id = ${id}
      returning *`.execute(trx);
    return r.rows[0];
  });
  outbox.forgetSubscriptions(workspaceId);
  return updated;
}

/** Deletes the subscription and its delivery log (pending deliveries with it). */
export async function deleteSubscription(db: Db, outbox: Outbox, workspaceId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const deleted = await db.transaction().execute(async (trx) => {
    const r = await sql`delete from webhook_subscriptions where workspace_id = ${workspaceId} and id = ${id}`.execute(trx);
    if (!r.numAffectedRows) return false;
    await sql`delete from webhook_deliveries where workspace_id = ${workspaceId} and subscription_id = ${id}`.execute(trx);
    return true;
  });
  outbox.forgetSubscriptions(workspaceId);
  return deleted;
}

/** Whether any subscription of the workspace has exactly this URL (notification.url on a send). */
export async function hasSubscriptionUrl(db: Db, workspaceId: string, url: string): Promise<boolean> {
  const r = await sql<{ one: number }>`select 1 as one from webhook_subscriptions where workspace_id = ${workspaceId} and url = ${url} limit 1`.execute(db);
  return r.rows.length > 0;
}

/** The subscription as the API shows it: Bird's fields, then Aviary's. */
export function subscriptionJson(s: SubscriptionRow) {
  return {
    id: s.id,
    organizationId: s.organization_id,
    workspaceId: s.workspace_id,
    service: s.service,
    event: s.event,
    eventFilters: s.event_filters,
    template: s.template,
    url: s.url,
    signingKey: s.signing_key,
    status: s.status,
    createdAt: s.created_at.toISOString(),
    updatedAt: s.updated_at.toISOString(),
    standardWebhooks: s.standard_webhooks,
    statusReason: s.status_reason,
    failingSince: s.failing_since?.toISOString() ?? null,
  };
}

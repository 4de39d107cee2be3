-- Webhooks (Bird's Notifications API): subscriptions, and one delivery row per (event, subscription).
--
-- A delivery row is written in the same transaction as the change that caused the event (a message
-- status, an inbound message, an interaction, a channel), so an event exists exactly when its cause
-- does. It is the job, the request and its log at once: `id` is the request id sent as
-- messagebird-request-id, `body` the exact bytes sent (and signed), `attempts` every attempt made.
-- Workers claim due rows with FOR UPDATE SKIP LOCKED (src/webhooks/deliveries.ts).
--
-- Tenant data: workspace_id leads every key. The claim index (`_due`) spans workspaces, like the
-- message dispatcher's. Every index is written on every claim and outcome, so there are few of them.

create table webhook_subscriptions (
  workspace_id uuid not null,
  id uuid not null,
  organization_id uuid not null,
  service text not null,
  event text not null,
  -- Bird's `eventFilters` as given (order kept, duplicates removed).
  event_filters jsonb not null default '[]',
  -- The same filters, canonical ("key=value" sorted, newline-separated; '' for none): subscriptions
  -- with the same event and signature have an identical filter combination (at most 5 of those).
  filter_signature text not null default '',
  -- The same filters again, in the columns event matching reads (null: that key is not filtered).
  filter_channel_id uuid,
  filter_statuses text[],
  filter_interaction_types text[],
  filter_platform_ids text[],
  template text,
  url text not null,
  signing_key text not null,
  -- Aviary: also send Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature).
  standard_webhooks boolean not null default false,
  status text not null default 'active',
  -- Why the subscription is inactive when Aviary made it so (failing for too long); null otherwise.
  status_reason text,
  -- Start of the current run of failed attempts; null while deliveries succeed.
  failing_since timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (workspace_id, id)
);
-- Matching an event: the active subscriptions of one workspace for one event name.
create index webhook_subscriptions_event on webhook_subscriptions (workspace_id, event) where status = 'active';
-- notification.url on a send must name a subscription's URL.
create index webhook_subscriptions_url on webhook_subscriptions (workspace_id, url);

create table webhook_deliveries (
  workspace_id uuid not null,
  -- The request id (messagebird-request-id, webhook-id): UUIDv7 of created_at.
  id uuid not null,
  subscription_id uuid not null,
  event text not null,
  -- Global order of creation. Deliveries with the same order_key (a message, a channel) go to a
  -- subscription one at a time, in this order.
  seq bigint generated always as identity,
  order_key uuid,
  body text not null,
  -- When the event happened; messagebird-request-timestamp is its unix second, the same on every attempt.
  created_at timestamptz not null,
  -- pending (not yet delivered; attempts may have failed), succeeded, failed (gave up).
  execution_status text not null default 'pending',
  attempt_count integer not null default 0,
  http_status_code integer,
  -- When a worker should next try; null once the delivery is finished. While an attempt is in flight
  -- it is the end of the worker's lease, so a delivery whose worker died is tried again then.
  next_attempt_at timestamptz,
  lease_owner text,
  -- One entry per attempt: {attempt, at, url, requestHeaders, httpStatusCode, responseBody, durationMs, error}.
  attempts jsonb not null default '[]',
  -- Set on a delivery created by hand (POST .../logs/{requestId}/redeliver): the request it repeats.
  redelivery_of uuid,
  updated_at timestamptz not null,
  -- Also the logs' index: one subscription's requests, newest first (request ids are time-ordered).
  primary key (workspace_id, subscription_id, id)
);
-- Claiming: due deliveries, oldest first. Holds only unfinished rows.
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where next_attempt_at is not null;
-- Per-key ordering: is an earlier delivery of the same key to the same subscription unfinished?
create index webhook_deliveries_chain on webhook_deliveries (workspace_id, subscription_id, order_key, seq)
  where next_attempt_at is not null and order_key is not null;

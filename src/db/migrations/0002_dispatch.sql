-- The message row is the dispatch job (graphile-worker's model): `next_attempt_at` says when a
-- worker should look at it next (null: nothing to do), a lease says who is looking now. A worker
-- that dies holding a lease simply lets it expire, and another picks the message up.
alter table messages add column next_attempt_at timestamptz;
alter table messages add column attempts integer not null default 0;
alter table messages add column lease_owner text;
alter table messages add column lease_expires_at timestamptz;
alter table messages add column platform_reference text;
create index messages_due on messages (next_attempt_at) where next_attempt_at is not null;
create index messages_platform_reference on messages (workspace_id, channel_id, platform_reference) where platform_reference is not null;

-- Every status a message has been in, in order: Bird's lifecycle as history.
create table message_status_history (
  workspace_id uuid not null,
  message_id uuid not null,
  seq bigint generated always as identity,
  status text not null,
  at timestamptz not null,
  reason text,
  failure jsonb,
  primary key (workspace_id, message_id, seq)
);

-- What a provider will tell us later (a delivery receipt, a reply), scheduled by a connector at send
-- time in the same transaction, so a crash between the send and the receipt loses neither. Real
-- providers call back over HTTP instead; the sandbox uses this table to behave like one.
create table connector_events (
  workspace_id uuid not null,
  id uuid not null,
  channel_id uuid not null,
  message_id uuid,
  kind text not null,
  payload jsonb not null,
  due_at timestamptz not null,
  lease_owner text,
  lease_expires_at timestamptz,
  primary key (workspace_id, id)
);
create index connector_events_due on connector_events (due_at);

-- Identifiers that must not be messaged (Bird: the message is `skipped`).
create table suppressions (
  workspace_id uuid not null,
  identifier_key text not null,
  identifier_value text not null,
  reason text,
  created_at timestamptz not null default now(),
  primary key (workspace_id, identifier_key, identifier_value)
);

-- Per (channel, contact) facts a platform needs, e.g. WhatsApp's customer-service window, which
-- opens with the contact's last inbound message.
create table channel_contacts (
  workspace_id uuid not null,
  channel_id uuid not null,
  contact_id uuid not null,
  last_inbound_at timestamptz,
  metadata jsonb not null default '{}',
  primary key (workspace_id, channel_id, contact_id)
);

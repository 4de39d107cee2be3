-- Tenancy. Organizations, workspaces and access keys are small, read-mostly and looked up before a
-- workspace is known, so they are not distributed by workspace (on Citus they become reference tables).
create table organizations (
  id uuid primary key,
  name text not null,
  created_at timestamptz not null default now()
);

create table workspaces (
  id uuid primary key,
  organization_id uuid not null references organizations (id),
  name text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index workspaces_organization on workspaces (organization_id);

-- Only a SHA-256 of each key is stored: keys are 256 random bits, so a slow hash buys nothing and a
-- fast one keeps authentication off the hot path. `prefix` lets a person recognise a key in lists.
create table access_keys (
  id uuid primary key,
  organization_id uuid not null references organizations (id),
  workspace_id uuid references workspaces (id),
  name text not null,
  prefix text not null,
  key_hash text not null unique,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

-- Everything below holds tenant data: workspace_id leads every key so the tables can be distributed
-- by workspace without rewriting a query.
create table channels (
  workspace_id uuid not null,
  id uuid not null,
  platform text not null,
  platform_id text not null,
  name text not null,
  status text not null default 'active',
  sender_identifier text,
  -- The connector is the channel's installation at its provider; messages name it as sender/receiver.
  connector_id uuid not null,
  connector_type text not null,
  connector_config jsonb not null default '{}',
  settings jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, id)
);

create table contacts (
  workspace_id uuid not null,
  id uuid not null,
  display_name text,
  attributes jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, id)
);

-- One row per (key, value) a contact is reachable at; the primary key is what makes
-- "find or create the contact for +31612345678" race-free across processes.
create table contact_identifiers (
  workspace_id uuid not null,
  identifier_key text not null,
  identifier_value text not null,
  contact_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (workspace_id, identifier_key, identifier_value)
);
create index contact_identifiers_contact on contact_identifiers (workspace_id, contact_id);

create table messages (
  workspace_id uuid not null,
  id uuid not null,
  channel_id uuid not null,
  platform text not null,
  direction text not null,
  status text not null,
  sender jsonb not null,
  receiver jsonb not null,
  body jsonb,
  template jsonb,
  meta jsonb,
  reference text,
  reply_to jsonb,
  tags text[] not null default '{}',
  short_links jsonb,
  scheduled_for timestamptz,
  validity integer,
  notification_url text,
  options jsonb,
  batch_id uuid,
  navigator_id uuid,
  -- Denormalised for list filters (from[], to[], countryCode[], emailSubject).
  from_identifier text,
  to_identifiers text[] not null default '{}',
  country_codes text[] not null default '{}',
  email_subject text,
  reason text,
  details text,
  failure jsonb,
  failure_code integer,
  failure_source_code text,
  failure_source_name text,
  parts jsonb,
  chargeable_units integer,
  origin jsonb,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  last_status_at timestamptz not null,
  primary key (workspace_id, id)
);
-- Keyset pagination walks (created_at, id) in either direction; one index per list scope.
create index messages_channel_page on messages (workspace_id, channel_id, created_at, id);
create index messages_workspace_page on messages (workspace_id, created_at, id);
create index messages_batch on messages (workspace_id, batch_id) where batch_id is not null;

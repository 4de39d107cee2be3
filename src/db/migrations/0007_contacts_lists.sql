-- The Contacts API (src/contacts/) and contact lists (src/lists/).
--
-- Identifiers keep Bird's optional `properties`; contact_identifiers' primary key
-- (workspace_id, identifier_key, identifier_value) stays what makes each identifier belong to one
-- contact, race-free across processes (inserts use ON CONFLICT). Lookups by value alone (the
-- contacts list's `identifierValue` filter) get their own index.
alter table contact_identifiers add column properties jsonb;
create index contact_identifiers_value on contact_identifiers (workspace_id, identifier_value);

-- Contacts are paged by id (UUIDv7, so creation order) on their primary key (workspace_id, id):
-- constant time per page at any depth, in both directions.

create table lists (
  workspace_id uuid not null,
  id uuid not null,
  name text not null,
  description text,
  consent_type text,
  tags text[] not null default '{}',
  is_proof boolean not null default false,
  -- Kept in the same transaction as every membership change, so reading it never counts a big list.
  contact_count bigint not null default 0,
  counter_updated_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, id)
);

-- A list's contacts are paged by contact id on the primary key; a contact's lists come from the
-- second index. Messages never reference contacts or lists by foreign key: a message keeps its
-- receiver as it was sent, so deleting a contact or a list cannot touch a message.
create table list_members (
  workspace_id uuid not null,
  list_id uuid not null,
  contact_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (workspace_id, list_id, contact_id)
);
create index list_members_contact on list_members (workspace_id, contact_id, list_id);

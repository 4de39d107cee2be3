-- Message interactions (Bird's `<platform>.interaction`: read, opened, clicked, reported-as-spam,
-- unsubscribe-request, delete-request, reaction), one row each, listed per message. What Bird reports
-- about the message itself (its reference, part count, tags) and who interacted (one receiver
-- contact) is kept as it was when the interaction happened.
--
-- Tenant data: workspace_id leads the key and every index so the table can be distributed by
-- workspace without rewriting a query.
create table interactions (
  workspace_id uuid not null,
  id uuid not null,
  channel_id uuid not null,
  message_id uuid not null,
  type text not null,
  platform_id text not null,
  message_reference text not null default '',
  message_parts_count integer not null default 0,
  message_tags text[],
  -- Bird's `receiver`: {"contacts": [the contact who interacted]}.
  receiver jsonb not null,
  details text,
  metadata jsonb,
  created_at timestamptz not null,
  primary key (workspace_id, id)
);
-- GET .../messages/{id}/interactions walks (created_at, id) within one message.
create index interactions_message_page on interactions (workspace_id, message_id, created_at, id);

-- GET /suppressions walks the list newest first by (created_at, identifier_key, identifier_value).
create index suppressions_page on suppressions (workspace_id, created_at, identifier_key, identifier_value);

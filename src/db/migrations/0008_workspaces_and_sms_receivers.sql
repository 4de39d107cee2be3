-- Workspaces as Bird's Accounts API describes them (GET/POST /organizations/{org}/workspaces): a
-- description, a status, and the data policy and configuration objects a client may set. The two
-- objects are stored as given and returned as given; Aviary does not act on them (it has one region).
alter table workspaces add column description text;
alter table workspaces add column status text not null default 'active' check (status in ('active', 'inactive'));
alter table workspaces add column data_policy jsonb;
alter table workspaces add column configuration jsonb;

-- The organization's workspace list is walked by keyset on (created_at, id).
create index workspaces_organization_page on workspaces (organization_id, created_at, id);
drop index workspaces_organization;

-- Page tokens carry creation times in milliseconds (JavaScript dates); workspaces are now created
-- with millisecond times, and the existing ones are brought to the same precision so that a token
-- never falls between a row's true time and its rounded one.
update workspaces set created_at = date_trunc('milliseconds', created_at);

-- An SMS to several receivers is submitted once per receiver; each receiver's own outcome (null while
-- pending, else {status, failure, reason, details}) is kept here, in receiver order, and the message's
-- status follows from all of them (docs/lifecycle.md). Null for single-receiver messages.
alter table messages add column receiver_outcomes jsonb;

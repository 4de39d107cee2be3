-- Message templates, as Bird's Studio / Touchpoints API models them: a *project* (type "channelTemplate")
-- holds numbered *versions* ("channel templates" in Bird's API), each with content per locale and
-- platform, typed variable definitions and, for WhatsApp, an approval state. See docs/templates.md.
--
-- Tenant data: workspace_id leads every key and every index so both tables can be distributed by
-- workspace on Citus (colocated, so the foreign key and the cascade stay local to a shard).

create table template_projects (
  workspace_id uuid not null,
  id uuid not null,
  name text not null,
  description text,
  type text not null,
  -- The last version number handed out; bumped under the project's row lock, so numbers are dense
  -- and never reused (deleting version 3 does not make the next one 3 again).
  version_count integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, id)
);
-- Bird's `template.name` identifies a project by name, so a name is unique within its workspace.
create unique index template_projects_name on template_projects (workspace_id, name);
create index template_projects_page on template_projects (workspace_id, created_at, id);

create table template_versions (
  workspace_id uuid not null,
  id uuid not null,
  project_id uuid not null,
  number integer not null,
  -- draft | pending | active | inactive | rejected
  status text not null,
  description text,
  default_locale text not null,
  supported_platforms text[] not null,
  -- Every locale with content, for the project's `locales` and the version's `localeStatuses`.
  locales text[] not null,
  variables jsonb not null default '[]',
  generic_content jsonb not null default '[]',
  platform_content jsonb not null default '[]',
  deployments jsonb not null default '[]',
  -- [{platform, status: pending|approved|rejected, reason, updatedAt}]: reviews by platforms that
  -- require one (WhatsApp).
  approvals jsonb not null default '[]',
  activated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, id),
  foreign key (workspace_id, project_id) references template_projects (workspace_id, id) on delete cascade
);
create unique index template_versions_number on template_versions (workspace_id, project_id, number);
create index template_versions_page on template_versions (workspace_id, project_id, created_at, id);
-- At most one active version per project: `version: "latest"` resolves to it.
create unique index template_versions_one_active on template_versions (workspace_id, project_id) where status = 'active';
